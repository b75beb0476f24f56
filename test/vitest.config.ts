// Vitest configuration: unit, property and integration tests live under test/ and mirror the sources.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Integration tests start real servers and touch loop devices; files run in parallel on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
