import { defineConfig } from 'vitest/config';

// End-to-end tests on a real cluster (test/cluster/*.e2e.ts): `npm run test:cluster`, or
// `npx vitest run --config test/cluster/vitest.config.ts` against a running cluster
// (docs/testing-on-a-real-cluster.md). One file at a time: they share the cluster.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.e2e.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
  },
});
