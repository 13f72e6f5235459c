import { defineConfig } from 'vitest/config';

// Forks, not threads: chDB allows one process per data directory, and some tests stop or kill
// child processes. Each test file gets its own process and its own temporary data directory.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
