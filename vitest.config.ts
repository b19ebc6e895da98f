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
  },
});
