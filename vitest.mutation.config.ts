import { defineConfig } from 'vitest/config';

// The tests that guard the promotion gates: what Stryker runs against each mutant
// (stryker.config.mjs). Real registries, cosign and PGlite, as in `npm test`.
export default defineConfig({
  test: {
    // FORGE_MUTATION_TESTS=a.test.ts,b.test.ts narrows the suite for a quick run on one module.
    include: process.env.FORGE_MUTATION_TESTS?.split(',') ?? [
      'steps/resolve/**/*.test.ts',
      'steps/verify/**/*.test.ts',
      'steps/scan/**/*.test.ts',
      'steps/policy/**/*.test.ts',
      'steps/copy/**/*.test.ts',
      'steps/attest/**/*.test.ts',
      'steps/record/**/*.test.ts',
      'steps/promote/**/*.test.ts',
      'steps/lib/records/**/*.test.ts',
      'steps/lib/*.test.ts',
    ],
    // Stryker switches mutants on inside the test worker; a tool run as a child process runs the
    // code unmutated (and, instrumented in the sandbox, without Stryker's globals), so the tests
    // that only drive the CLI processes add time and no kills.
    testNamePattern: /^(?!forge |.*\bCLIs?\b|PGlite shared by several processes|database URLs with passwords|file lock between processes)/,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1 } },
  },
});
