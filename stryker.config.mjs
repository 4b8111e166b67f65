// Mutation testing of the promotion gates (npm run test:mutation; docs/mutation-testing.md).
// Each mutant is a small change to a gate (a flipped condition, a removed call); the suite must
// notice it. `FORGE_MUTATE=steps/policy/**/*.ts npm run test:mutation` narrows the run.
const gates = [
  'steps/resolve/resolve.ts',
  'steps/verify/verify.ts',
  'steps/scan/attested.ts',
  'steps/scan/gate.ts',
  'steps/scan/report.ts',
  'steps/scan/source.ts',
  'steps/policy/checks.ts',
  'steps/policy/policy.ts',
  'steps/copy/copy.ts',
  'steps/attest/attest.ts',
  'steps/attest/predicate.ts',
  'steps/record/record.ts',
  'steps/lib/records/records.ts',
  'steps/lib/records/rows.ts',
  'steps/lib/records/roles.ts',
  'steps/lib/reference.ts',
  'steps/lib/image-passwd.ts',
  'steps/lib/k8s-public-key.ts',
  'steps/lib/scan-exceptions.ts',
  'steps/lib/severity.ts',
  'steps/lib/size.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: process.env.FORGE_MUTATE ? process.env.FORGE_MUTATE.split(',') : gates,
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 60_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'dist/mutation/mutation.json' },
  htmlReporter: { fileName: 'dist/mutation/mutation.html' },
  tempDirName: 'dist/.stryker-tmp',
  cleanTempDir: 'always',
  ignoreStatic: true,
  thresholds: { high: 90, low: 85, break: null },
};
