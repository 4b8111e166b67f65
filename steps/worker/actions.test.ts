import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stepCommand, type ActionContext, type StepSpec } from './actions.ts';
import { runSteps } from './run-steps.ts';
import { jobSchema } from '../lib/pool/job.ts';
import { failure } from '../../test/helpers/forge-error.ts';

// A step's action as argv + environment: no shell, and an environment of PATH/HOME/locale, the
// job's FORGE_* facts and the step's own secrets — never the worker's other variables.
const COMMIT = 'c0ffee'.padEnd(40, '0');
const job = jobSchema.parse({
  apiVersion: 'forge.dev/v1alpha1',
  kind: 'Job',
  id: 'wf-abc123.lint-api',
  runId: 'wf-abc123',
  taskId: 'lint-api',
  pool: 'ci',
  repository: 'https://git.example/org/repo.git',
  commit: COMMIT,
  timeoutMs: 60_000,
  task: { kind: 'phase', phase: 'lint', project: 'api', path: 'services/api' },
  createdAt: new Date(0).toISOString(),
}) as ActionContext['job'];

const workerEnv: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: '/home/worker',
  LANG: 'C.UTF-8',
  TZ: 'UTC',
  DOCKER_HOST: 'unix:///run/docker.sock',
  FORGE_BASE_IMAGE: 'registry.example.test/node:24',
  NATS_URL: 'nats://nats:4222',
  FORGE_NATS_CREDS: '/var/run/nats/creds',
  AWS_SECRET_ACCESS_KEY: 'worker-only',
  FORGE_SECRET_UNRELATED: 'not this step’s',
  KUBERNETES_SERVICE_HOST: '10.0.0.1',
};

let tmp: string;
let ctx: ActionContext;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-actions-'));
  await mkdir(join(tmp, 'services', 'api'), { recursive: true });
  // A stand-in earthly binary: prints its argv and environment, as the real one would receive them.
  await writeFile(join(tmp, 'earthly'), `#!${process.execPath}\nconsole.log(JSON.stringify({ argv: process.argv.slice(2), env: process.env }));\n`);
  await chmod(join(tmp, 'earthly'), 0o755);
  ctx = { job, attempt: 2, workspace: tmp, workerEnv, earthly: join(tmp, 'earthly') };
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const step = (over: Partial<StepSpec>): StepSpec => ({ name: 'check', stage: 3, action: 'script', target: 'make', args: ['lint'], timeoutMs: 120_000, ...over });
const FACTS = {
  CI: 'true',
  FORGE_RUN_ID: 'wf-abc123',
  FORGE_TASK_ID: 'lint-api',
  FORGE_JOB_ID: 'wf-abc123.lint-api',
  FORGE_JOB_ATTEMPT: '2',
  FORGE_COMMIT: COMMIT,
  FORGE_PROJECT: 'api',
  FORGE_PHASE: 'lint',
  FORGE_STEP: 'check',
};
const PASSED = { PATH: process.env.PATH, HOME: '/home/worker', LANG: 'C.UTF-8', TZ: 'UTC', DOCKER_HOST: 'unix:///run/docker.sock', FORGE_BASE_IMAGE: 'registry.example.test/node:24' };

describe('script steps', () => {
  test('argv is target + args, cwd the project directory, env the passed variables, facts and secrets', () => {
    const c = stepCommand(step({ args: ['lint', '--fix', '$HOME; rm -rf /'] }), [{ id: 'NPM_TOKEN', value: 'n,p,m' }], ctx);
    expect(c).toEqual({
      name: 'check',
      stage: 3,
      argv: ['make', 'lint', '--fix', '$HOME; rm -rf /'],
      cwd: join(tmp, 'services', 'api'),
      env: { ...PASSED, ...FACTS, NPM_TOKEN: 'n,p,m' },
      timeoutMs: 120_000,
    });
  });

  test('variables the worker does not have are left out, not set empty', () => {
    const c = stepCommand(step({}), [], { ...ctx, workerEnv: { PATH: '/usr/bin' } });
    expect(c.env).toEqual({ PATH: '/usr/bin', ...FACTS });
  });

  test('the running process sees exactly that environment', async () => {
    const c = stepCommand(step({ target: process.execPath, args: ['-e', 'console.log(JSON.stringify(process.env))'] }), [{ id: 'TOKEN', value: 's3cret' }], ctx);
    let out = '';
    const outcome = await runSteps([c], { onOutput: (_s, _t, text) => (out += text), onProgress: () => undefined, signal: new AbortController().signal });
    expect(outcome.steps[0]!.status).toBe('succeeded');
    const seen = JSON.parse(out) as Record<string, string>;
    expect(seen).toEqual({ ...PASSED, ...FACTS, TOKEN: 's3cret' });
  });
});

describe('earthly steps', () => {
  test.each([
    ['+build', '+build'],
    ['build', '+build'],
  ])('target %s runs as earthly --ci %s args…', (target, expected) => {
    const c = stepCommand(step({ action: 'earthly', target, args: ['--push', '--platform=linux/amd64'] }), [], ctx);
    expect(c.argv).toEqual([join(tmp, 'earthly'), '--ci', expected, '--push', '--platform=linux/amd64']);
    expect(c.cwd).toBe(join(tmp, 'services', 'api'));
    expect(c.env).toEqual({ ...PASSED, ...FACTS });
  });

  test('secrets travel in EARTHLY_SECRETS only: not as variables, never on the command line', () => {
    const c = stepCommand(step({ action: 'earthly', target: '+publish' }), [{ id: 'REGISTRY_TOKEN', value: 'r=1' }, { id: 'NPM', value: 'abc def' }], ctx);
    expect(c.env.EARTHLY_SECRETS).toBe('REGISTRY_TOKEN=r=1,NPM=abc def');
    expect(c.env.REGISTRY_TOKEN).toBeUndefined();
    expect(c.env.NPM).toBeUndefined();
    expect(c.argv.join(' ')).not.toMatch(/r=1|abc def/);
    expect(c.env).toEqual({ ...PASSED, ...FACTS, EARTHLY_SECRETS: 'REGISTRY_TOKEN=r=1,NPM=abc def' });
  });

  test('a secret value with a comma is refused, naming the step and the secret but not the value', async () => {
    const e = await failure(Promise.resolve().then(() => stepCommand(step({ action: 'earthly', target: '+publish' }), [{ id: 'OK', value: 'fine' }, { id: 'LIST', value: 'a,b-value' }], ctx)));
    expect(e.code).toBe('JOB_FAILED');
    expect(e.message).toBe('step check: the value of secret LIST contains a comma, which EARTHLY_SECRETS (id=value,…) cannot carry');
    expect(e.message).not.toContain('a,b-value');
  });

  test('earthly receives that argv and environment when run', async () => {
    const c = stepCommand(step({ action: 'earthly', target: 'image', args: ['--push'] }), [{ id: 'TOKEN', value: 'tk' }], ctx);
    let out = '';
    const outcome = await runSteps([c], { onOutput: (_s, _t, text) => (out += text), onProgress: () => undefined, signal: new AbortController().signal });
    expect(outcome.steps[0]!.status).toBe('succeeded');
    const seen = JSON.parse(out) as { argv: string[]; env: Record<string, string> };
    expect(seen.argv).toEqual(['--ci', '+image', '--push']);
    expect(seen.env).toEqual({ ...PASSED, ...FACTS, EARTHLY_SECRETS: 'TOKEN=tk' });
  });
});
