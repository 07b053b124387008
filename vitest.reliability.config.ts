import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: the long variants of test/reliability (20 SIGKILL rounds, a 60 s overload flood, a
 * 60 s soak, 50,000 fuzzed requests), one file at a time so the floods and memory readings do not overlap.
 * `npm test` runs the same files in their short variants.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    env: { DATACUBE_RELIABILITY: 'long' },
    testTimeout: 1_200_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/buildSetup.ts'],
  },
});
