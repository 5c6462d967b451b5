import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // A limit against hangs, not a speed check (speed is in `npm run bench`): CI machines differ by 3x
    // (the whole suite took 739 s on one and 2207 s on another), and the slowest default-limit tests
    // take 20-50 s on this project's 2-core machines.
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
