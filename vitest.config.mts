import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Construct tests synthesize whole stacks; integration tests run emulators on
    // ephemeral ports. Both are CPU-bound on a 2-core machine, so cap parallelism.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
