import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end tests start real programs (ffmpeg, GStreamer, relay, hub); two cores only.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // End-to-end tests run real cameras, ffmpeg and browsers on two cores: on CI a test that fails
    // gets one more try, and the report still shows the failure it retried.
    retry: process.env.CI ? 1 : 0,
  },
});
