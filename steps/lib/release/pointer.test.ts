import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isForgeError } from '../errors.ts';
import { updatePointer, type PointerInput } from './pointer.ts';
import { createGitopsRepo } from '../../../test/helpers/gitops.ts';

// GitOps pointers in a real bare git repository: the seed's format, no commit when nothing
// changes, and concurrent writers that all land on a linear history without a forced push.
let tmp: string;
let remote: string;
const git = (dir: string, args: string[]) => execa('git', ['-C', dir, ...args]).then((r) => r.stdout);
const sha = (c: string) => c.repeat(40);

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-pointer-'));
  remote = await createGitopsRepo(tmp);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const pointer = (over: Partial<PointerInput> = {}): PointerInput => ({
  environment: 'dev', repository: 'acme/monorepo', project: 'api', release: sha('a'), aliases: { numeric: 42, tag: 'api/v1.2.3', branch: 'main-42' }, deployedBy: 'alice@example.test', ...over,
});
const show = async (path: string) => YAML.parse(await git(remote, ['show', `main:${path}`])) as Record<string, unknown>;
const count = async () => Number(await git(remote, ['rev-list', '--count', 'main']));

describe('updatePointer', () => {
  test("writes the seed's ReleasePointer and a message that says what was deployed; the same release again commits nothing", async () => {
    const at = new Date('2026-11-29T10:00:00Z');
    const r = await updatePointer(pointer(), { url: remote, now: () => at });
    expect(r).toMatchObject({ path: 'environments/dev/acme/monorepo/api/release.yaml', attempts: 1 });
    expect(await show(r.path)).toEqual({
      apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleasePointer', metadata: { name: 'api', environment: 'dev' },
      spec: { release: sha('a'), aliases: { numeric: 42, tag: 'api/v1.2.3', branch: 'main-42' }, deployedAt: '2026-11-29T10:00:00.000Z', deployedBy: 'alice@example.test' },
    });
    expect((await git(remote, ['log', '-1', '--format=%an <%ae>%n%B', 'main'])).trimEnd()).toBe(
      `alice@example.test <alice@example.test>\nDeploy api to dev: release 42 (api/v1.2.3, main-42)\n\nRepository: acme/monorepo\nRelease: ${sha('a')}\nDeployed by: alice@example.test`,
    );
    const before = await count();
    expect(await updatePointer(pointer({ deployedBy: 'bob@example.test' }), { url: remote })).toEqual({ path: r.path, attempts: 1 });
    expect(await count()).toBe(before);
  });

  test('20 writers at once (10 projects, two releases each): every update lands, history stays linear, nothing forced', async () => {
    const before = await count();
    const writers = Array.from({ length: 20 }, (_, i) => pointer({ project: `p${i % 10}`, release: sha(i < 10 ? 'b' : 'c'), aliases: { numeric: i < 10 ? 1 : 2 } }));
    const results = await Promise.all(writers.map((w) => updatePointer(w, { url: remote, maxAttempts: 30 })));
    expect(results.every((r) => r.commit)).toBe(true);
    expect(results.some((r) => r.attempts > 1)).toBe(true); // they did race
    expect(await count()).toBe(before + 20);
    expect(await git(remote, ['rev-list', '--merges', 'main'])).toBe('');
    for (const r of results) expect(await git(remote, ['merge-base', '--is-ancestor', r.commit!, 'main']).then(() => true)).toBe(true);
    // Each project's pointer names one of the two releases it was given, whole and valid.
    for (let i = 0; i < 10; i++) expect([sha('b'), sha('c')]).toContain(((await show(`environments/dev/acme/monorepo/p${i}/release.yaml`)).spec as { release: string }).release);
  }, 120_000);

  test('refuses a pointer that is not a commit SHA or names a path outside its place, before any git', async () => {
    const e = await updatePointer(pointer({ release: '42', environment: '../prod', project: 'API' }), { url: join(tmp, 'nowhere.git') }).catch((x: unknown) => x);
    expect(isForgeError(e) && e.code).toBe('INVALID_ARGS');
    expect((e as { details: { field: string; message: string }[] }).details).toEqual([
      { field: 'environment', message: 'must be an environment name' },
      { field: 'project', message: 'must be a project name' },
      { field: 'release', message: 'must be the release commit SHA (numbers and digests are not pointer values)' },
    ]);
  });

  test('a repository it cannot reach fails with GIT_FAILED and never prints its credentials', async () => {
    const e = await updatePointer(pointer(), { url: 'http://deployer:s3cr3t-token@127.0.0.1:9/gitops.git' }).catch((x: unknown) => x);
    expect(isForgeError(e) && e.code).toBe('GIT_FAILED');
    expect((e as Error).message).toMatch(/^cannot clone the GitOps repository http:\/\/127\.0\.0\.1:9\/gitops\.git \(main\)/);
    expect((e as Error).message).not.toContain('s3cr3t');
  });
});
