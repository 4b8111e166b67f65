import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { ReleaseRecords } from '../lib/records/releases.ts';
import { createGitopsRepo } from '../../test/helpers/gitops.ts';

// `forge deploy` and `forge rollback` as a person runs them: embedded records, a bare GitOps repository.
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
const sha = (c: string) => c.repeat(40);
let tmp: string;
let state: string;
let remote: string;
const git = (args: string[]) => execa('git', ['-C', remote, ...args]).then((r) => r.stdout);
const run = (command: 'deploy' | 'rollback', args: string[], env: Record<string, string> = {}) =>
  execa(forge, [command, ...args, '--state-dir', state], { reject: false, env: { FORGE_DATABASE_URL: '', FORGE_GITOPS_URL: remote, FORGE_REPOSITORY: 'acme/monorepo', FORGE_BY: 'alice@example.test', ...env } });

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-deploy-cli-'));
  state = join(tmp, 'state');
  remote = await createGitopsRepo(tmp);
  const db = await openDatabase({ dataDir: defaultDataDir(state) });
  const releases = new ReleaseRecords(db);
  await releases.recordRelease({ repository: 'acme/monorepo', project: 'api', commit: sha('a'), trigger: 'branch', branch: 'main' });
  await releases.recordRelease({ repository: 'acme/monorepo', project: 'api', commit: sha('b'), trigger: 'tag', tag: 'api/v1.0.0' });
  await db.close();
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('forge deploy / forge rollback', () => {
  test('deploys, says so; again: already deployed, no commit', async () => {
    const r = await run('deploy', ['dev', 'api', 'main-1', '--gitops-author-name', 'forge', '--gitops-author-email', 'forge@example.test']);
    expect(r.exitCode, r.stderr).toBe(0);
    const head = await git(['rev-parse', 'main']);
    expect(r.stdout).toBe(
      `deployed release 1 (main-1) of acme/monorepo/api (${sha('a')}) to dev\n  pointer: environments/dev/acme/monorepo/api/release.yaml (commit ${head})\n  previous: none\n  deployment: ${/deployment: (\S+)/.exec(r.stdout)?.[1]}`,
    );
    expect(await git(['log', '-1', '--format=%an <%ae>', 'main'])).toBe('forge <forge@example.test>');
    const again = await run('deploy', ['dev', 'api', '1']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toBe(`release 1 (main-1) of acme/monorepo/api (${sha('a')}) is already deployed to dev: nothing to commit`);
    expect(await git(['rev-parse', 'main'])).toBe(head);
  }, 60_000);

  test('refusals exit 1 with the rule; usage errors exit 2; the GitOps URL is never printed', async () => {
    const policy = await run('deploy', ['production', 'api', 'main-1']);
    expect(policy.exitCode).toBe(1);
    expect(policy.stderr).toContain('error: POLICY_VIOLATION: release 1 (main-1) of acme/monorepo/api may not be deployed to production: production takes releases made by tag, manual; this one was made by branch_push (branch main)');
    const approval = await run('deploy', ['production', 'api', 'api/v1.0.0']);
    expect(approval.exitCode).toBe(1);
    expect(approval.stderr).toContain('approve it with `forge approve production acme/monorepo api 2 --by WHO --reason WHY`');
    const check = await run('deploy', ['production', 'api', 'api/v1.0.0', '--check', '--outputs-dir', join(tmp, 'out')]);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^production needs an active approval of release 2 \(api\/v1\.0\.0\)/);
    expect(await execa('cat', [join(tmp, 'out', 'requires-approval'), join(tmp, 'out', 'ready')]).then((x) => x.stdout)).toBe('truefalse');
    const unknown = await run('deploy', ['dev', 'api', 'main-9']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('error: RECORD_FAILED: no release main-9 of acme/monorepo/api is recorded');
    const usage = await run('deploy', ['dev', 'api']);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain('forge deploy takes ENVIRONMENT PROJECT RELEASE');
    const secret = await run('deploy', ['dev', 'api', 'api/v1.0.0'], { FORGE_GITOPS_URL: 'http://deployer:s3cr3t-token@127.0.0.1:9/gitops.git' });
    expect(secret.exitCode).toBe(1);
    expect(secret.stderr).toContain('GIT_FAILED: cannot clone the GitOps repository http://127.0.0.1:9/gitops.git');
    expect(secret.stdout + secret.stderr).not.toContain('s3cr3t');
  }, 120_000);

  test('environments from a file; a bad file names the file and the field', async () => {
    const file = join(tmp, 'environments.yaml');
    await writeFile(file, 'environments:\n  production:\n    allowedTriggers: [branch_push]\n    allowedBranches: [main]\n');
    const r = await run('deploy', ['production', 'api', 'main-1', '--environments', file, '--output', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ changed: true, kind: 'deploy', release: { number: 1 } });
    await writeFile(file, 'production:\n  allowedTriggers: [push]\n');
    const bad = await run('deploy', ['production', 'api', 'main-1', '--environments', file]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain(`error: INVALID_CONFIG: invalid environments in ${file}\n  ${file}: production.allowedTriggers.0:`);
  }, 60_000);

  test('forge rollback without a release goes back to the one deployed before', async () => {
    expect((await run('deploy', ['dev', 'api', 'api/v1.0.0'])).exitCode).toBe(0);
    const r = await run('rollback', ['dev', 'api'], { FORGE_BY: 'carol@example.test' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rolled back release 1 \(main-1\) of acme\/monorepo\/api .* to dev\n.*\n {2}previous: release 2 \(api\/v1\.0\.0\)\n/);
    expect(await git(['log', '-1', '--format=%B', 'main'])).toBe('Rollback api in dev to release 1 (main-1)\n\nPrevious release: 2 (api/v1.0.0)\nRolled back by: carol@example.test\n');
  }, 60_000);

  test('--help prints the usage without any option; forge lists both commands', async () => {
    for (const command of ['deploy', 'rollback'] as const) {
      const r = await execa(forge, [command, '--help'], { reject: false, env: { FORGE_GITOPS_URL: '', FORGE_REPOSITORY: '', FORGE_BY: '' } });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: forge ${command} ENVIRONMENT PROJECT`));
    }
    const list = await execa(forge, ['--help']);
    expect(list.stdout).toMatch(/^ {2}deploy\s+deploy a release/m);
    expect(list.stdout).toMatch(/^ {2}rollback\s+roll a project/m);
  }, 60_000);
});
