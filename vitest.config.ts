import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts real servers and worker pools; on 2 cores, running
    // files one at a time keeps timing-based assertions honest.
    fileParallelism: false,
  },
});
