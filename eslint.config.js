// ESLint flat config: the recommended TypeScript rules, with type information off for speed, and
// the layering of docs/architecture.md ("Layering") held by import-x/no-restricted-paths.
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const shipped = ['./steps', './cdk8s', './workflows', './examples'];
const stepTools = './steps/!(lib|promote|local|worker)/**';
const toolFolders = readdirSync(new URL('./steps', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory() && !['lib', 'promote', 'local', 'worker'].includes(d.name))
  .map((d) => d.name);

/** Each rule: files under `target` may not import from any of `from` (paths from the repository root). */
const layers = [
  // steps/lib is the bottom layer: it imports no step tool, template, chart or test.
  { target: './steps/lib/**', from: [stepTools, './steps/promote/**', './steps/cli.ts', './workflows/**', './cdk8s/**', './test/**', './examples/**'], message: 'steps/lib imports only steps/lib (docs/architecture.md, Layering)' },
  // steps/local: real servers and images for local runs (the demo, `forge run`, the tests); above lib only.
  { target: './steps/local/**', from: [stepTools, './steps/promote/**', './steps/cli.ts', './workflows/**', './cdk8s/**', './test/**', './examples/**'], message: 'steps/local imports only steps/lib and steps/local' },
  // A step tool uses steps/lib; only the chain (`promote`) and the CLI compose tools.
  { target: stepTools, from: ['./workflows/**', './cdk8s/**', './test/**', './examples/**'], message: 'a step tool imports only steps/lib (docs/architecture.md, Layering)' },
  ...toolFolders.map((tool) => ({ target: `./steps/${tool}/**`, from: [`./steps/!(lib|${tool})/**`], message: `steps/${tool} imports no other step tool: share through steps/lib (docs/architecture.md, Layering)` })),
  // Constructs and the platform config are below the templates; charts and the app are above them.
  { target: ['./cdk8s/constructs/**', './cdk8s/platform-config*.ts'], from: ['./workflows/**', './cdk8s/charts/**', './cdk8s/main.ts', './cdk8s/app.ts', './steps/!(lib)/**'], message: 'constructs and the platform config sit below workflows/ and cdk8s/charts (docs/architecture.md, Layering)' },
  { target: './workflows/**', from: ['./cdk8s/charts/**', './cdk8s/main.ts', './cdk8s/app.ts', './steps/!(lib)/**'], message: 'templates use constructs, the platform config and steps/lib only (docs/architecture.md, Layering)' },
  // Nothing shipped imports test code.
  ...shipped.map((target) => ({ target: `${target}/**`, from: ['./test/**'], message: 'shipped code never imports test code' })),
];
// The rule takes a zone's `from` as all globs or all plain paths: one zone per entry.
const zones = layers.flatMap(({ from, ...rest }) => from.map((f) => ({ ...rest, from: f })));

export default tseslint.config(
  { ignores: ['dist/**', 'action/index.mjs', 'node_modules/**', 'examples/monorepo/**', 'steps/lib/argo-server/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['steps/**/*.ts', 'cdk8s/**/*.ts', 'workflows/**/*.ts', 'examples/**/*.ts'],
    // Tests sit beside the code and may use the test helpers and the tools under test.
    ignores: ['**/*.test.ts'],
    plugins: { 'import-x': importX },
    rules: { 'import-x/no-restricted-paths': ['error', { zones }] },
  },
);
