import { defineConfig } from 'vitest/config';

// Integration tests run real `cue` and `git` processes: give them room, and keep the
// 2-core machines from being oversubscribed.
export default defineConfig({
  test: {
    include: ['steps/**/*.test.ts', 'cdk8s/**/*.test.ts', 'workflows/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/conformance/**', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
  },
});
