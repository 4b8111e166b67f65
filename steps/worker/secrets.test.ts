import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { resolveSecret, secretId, type SecretRef } from './secrets.ts';
import { failure } from '../../test/helpers/forge-error.ts';

// Secret references resolved on the worker: the env provider's prefix rule, mounted Kubernetes
// Secrets without path traversal, and the ids the steps receive them under.
const WHERE = 'projects/api/.forge/project.cue: ci.phases.lint.deploy';
let tmp: string;
let secretsDir: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-secrets-'));
  secretsDir = join(tmp, 'secrets');
  const put = async (path: string, value: string) => {
    await mkdir(join(tmp, path, '..'), { recursive: true });
    await writeFile(join(tmp, path), value);
  };
  await put('secrets/ci/registry/password', 'hunter2\n');
  await put('secrets/ci/registry/tls.crt', 'line1\nline2\n\n');
  // Outside the mounted directory: what a traversal would reach.
  await put('outside/registry/password', 'not yours');
  await put('outside/pw', 'not yours');
  await put('secrets/ci/registry/..x', 'dots');
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const resolve = (ref: SecretRef, env: NodeJS.ProcessEnv = {}) => resolveSecret(ref, WHERE, env, secretsDir);

describe('env provider', () => {
  test('reads a FORGE_SECRET_ variable of the worker, exposed without the prefix', async () => {
    expect(await resolve({ provider: 'env', path: 'FORGE_SECRET_API_TOKEN' }, { FORGE_SECRET_API_TOKEN: 't0k3n' })).toEqual({ id: 'API_TOKEN', value: 't0k3n' });
    expect(await resolve({ provider: 'env', path: 'FORGE_SECRET_X', name: 'deploy-key' }, { FORGE_SECRET_X: '' })).toEqual({ id: 'DEPLOY_KEY', value: '' });
  });

  test.each([
    ['NATS_CREDS', 'NATS_CREDS'],
    ['forge_secret_lower', 'forge_secret_lower'],
    ['XFORGE_SECRET_A', 'XFORGE_SECRET_A'],
    [undefined, ''],
  ])('refuses a variable without the prefix (%s), naming the step', async (path, shown) => {
    const e = await failure(resolve({ provider: 'env', ...(path ? { path } : {}) }, { NATS_CREDS: 'worker-only', forge_secret_lower: 'x', XFORGE_SECRET_A: 'x' }));
    expect(e.code).toBe('JOB_FAILED');
    expect(e.message).toBe(`secret of ${WHERE} (provider env): path must name a worker variable starting with FORGE_SECRET_, got "${shown}"`);
    expect(e.message).not.toContain('worker-only');
  });

  test('a missing variable is an error naming it', async () => {
    const e = await failure(resolve({ provider: 'env', path: 'FORGE_SECRET_MISSING' }, { FORGE_SECRET_OTHER: 'x' }));
    expect(e.message).toBe(`secret of ${WHERE} (provider env): the worker has no variable FORGE_SECRET_MISSING`);
  });
});

describe('kubernetes provider', () => {
  test('reads <dir>/<namespace>/<secretName>/<key>, dropping one final newline', async () => {
    expect(await resolve({ provider: 'kubernetes', namespace: 'ci', secretName: 'registry', key: 'password' })).toEqual({ id: 'PASSWORD', value: 'hunter2' });
    expect(await resolve({ provider: 'kubernetes', namespace: 'ci', secretName: 'registry', key: 'tls.crt', name: 'cert' })).toEqual({ id: 'CERT', value: 'line1\nline2\n' });
  });

  test.each([
    [{ namespace: '..', secretName: 'outside', key: 'pw' }],
    [{ namespace: 'ci', secretName: '../../outside/registry', key: 'password' }],
    [{ namespace: 'ci', secretName: 'registry/../registry', key: 'password' }],
    [{ namespace: 'ci', secretName: 'registry', key: '/etc/passwd' }],
    [{ namespace: 'ci', secretName: 'registry', key: '..x' }],
    [{ namespace: '.', secretName: 'registry', key: 'password' }],
    [{ namespace: 'ci', secretName: 'registry' }],
    [{ secretName: 'registry', key: 'password' }],
    [{ namespace: 'ci', secretName: '', key: 'password' }],
  ])('refuses anything but plain names: %o', async (parts) => {
    const e = await failure(resolve({ provider: 'kubernetes', ...parts }));
    expect(e.code).toBe('JOB_FAILED');
    expect(e.message).toBe(`secret of ${WHERE} (provider kubernetes): namespace, secretName and key must all be set to plain names`);
    expect(e.message).not.toMatch(/not yours|dots/);
  });

  test('a key that is not mounted says which and where', async () => {
    const e = await failure(resolve({ provider: 'kubernetes', namespace: 'ci', secretName: 'registry', key: 'token' }));
    expect(e.message).toBe(`secret of ${WHERE} (provider kubernetes): ci/registry key token is not mounted on this pool (${join(secretsDir, 'ci', 'registry', 'token')})`);
  });
});

test.each(['vault', 'aws', 'ENV', ''])('an unknown provider (%j) is refused with the available ones', async (provider) => {
  const e = await failure(resolve({ provider, path: 'FORGE_SECRET_A' }, { FORGE_SECRET_A: 'x' }));
  expect(e.code).toBe('JOB_FAILED');
  expect(e.message).toBe(`secret of ${WHERE} (provider ${provider}): provider "${provider}" is not available on this worker (available: env, kubernetes)`);
});

describe('secretId', () => {
  test.each<[SecretRef, string]>([
    [{ provider: 'env', path: 'FORGE_SECRET_NPM_TOKEN', name: 'registry-token' }, 'REGISTRY_TOKEN'],
    [{ provider: 'kubernetes', secretName: 'registry', key: 'docker.config-json', namespace: 'ci' }, 'DOCKER_CONFIG_JSON'],
    [{ provider: 'env', path: 'FORGE_SECRET_npm_token' }, 'NPM_TOKEN'],
    [{ provider: 'x', path: 'kv/data/ci/github-token' }, 'GITHUB_TOKEN'],
    [{ provider: 'x', secretName: 'only-name' }, 'ONLY_NAME'],
    [{ provider: 'x' }, 'SECRET'],
    [{ provider: 'x', key: '1password' }, '_1PASSWORD'],
    [{ provider: 'x', name: 'FORGE_SECRET_9' }, '_9'],
    [{ provider: 'x', name: 'a b$c' }, 'A_B_C'],
  ])('%o → %s', (ref, id) => {
    expect(secretId(ref)).toBe(id);
    expect(secretId(ref)).toMatch(/^[A-Z_][A-Z0-9_]*$/);
  });
});
