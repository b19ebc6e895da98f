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
    // No retries: a test that fails only sometimes has a cause to find (a race, a fixed sleep, a
    // bound that two busy cores do not meet), and a retry would hide it.
    retry: 0,
  },
});
