import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { postgresForSuite } from '../../test/helpers/postgres-suite.ts';
import { openAsRuntimeRole, tempRecordsDatabase } from '../../test/helpers/records.ts';
import { ApprovalRecords } from '../lib/records/approvals.ts';
import { DeploymentRecords } from '../lib/records/deployments.ts';
import { ReleaseRecords } from '../lib/records/releases.ts';
import { environmentsSchema } from '../lib/release/environment-policy.ts';
import { renderPointer } from '../lib/release/pointer.ts';
import { deployRelease, planDeployment, rollbackTarget, type DeployDeps } from './deploy.ts';
import { createGitopsRepo } from '../../test/helpers/gitops.ts';

// deployRelease end to end: embedded records (PGlite) and a real bare GitOps repository.
const sha = (c: string) => c.repeat(40);
const repository = 'acme/monorepo';
const git = (dir: string, args: string[]) => execa('git', ['-C', dir, ...args]).then((r) => r.stdout);

let tmp: string;
let remote: string;
let records: Awaited<ReturnType<typeof tempRecordsDatabase>>;
let deps: DeployDeps;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-deploy-'));
  remote = await createGitopsRepo(tmp);
  records = await tempRecordsDatabase('forge-deploy-records');
  const releases = new ReleaseRecords(records.db);
  deps = { releases, approvals: new ApprovalRecords(records.db), deployments: new DeploymentRecords(records.db), environments: environmentsSchema.parse(undefined), gitops: { url: remote } };
  // api: 1 and 2 from main, 3 tagged api/v1.0.0, 4 from a feature branch; web: 1 tagged.
  await releases.recordRelease({ repository, project: 'api', commit: sha('a'), trigger: 'branch', branch: 'main' });
  await releases.recordRelease({ repository, project: 'api', commit: sha('b'), trigger: 'branch', branch: 'main' });
  await releases.recordRelease({ repository, project: 'api', commit: sha('c'), trigger: 'tag', tag: 'api/v1.0.0' });
  await releases.recordRelease({ repository, project: 'api', commit: sha('d'), trigger: 'branch', branch: 'feature/x' });
  await releases.recordRelease({ repository, project: 'web', commit: sha('e'), trigger: 'tag', tag: 'web/v2.0.0' });
}, 120_000);
afterAll(async () => {
  await records?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const pointerAt = async (env: string, project = 'api') => YAML.parse(await git(remote, ['show', `main:environments/${env}/${repository}/${project}/release.yaml`])) as { spec: Record<string, unknown> };
const commits = async () => Number(await git(remote, ['rev-list', '--count', 'main']));
const lastMessage = async () => (await git(remote, ['log', '-1', '--format=%B', 'main'])).trimEnd();
const deploy = (environment: string, release: string, over: { project?: string; kind?: 'deploy' | 'rollback'; deployedBy?: string } = {}) =>
  deployRelease({ repository, project: over.project ?? 'api', environment, release, deployedBy: over.deployedBy ?? 'alice@example.test', kind: over.kind ?? 'deploy' }, deps);

describe('deployRelease', () => {
  test('deploys: the pointer names the release, one commit; the same again makes no commit and says so', async () => {
    const before = await commits();
    const r = await deploy('dev', 'main-1');
    expect(r).toMatchObject({ changed: true, recorded: true, kind: 'deploy', release: { number: 1, commit: sha('a') }, pointer: { path: `environments/dev/${repository}/api/release.yaml` } });
    expect(await commits()).toBe(before + 1);
    expect(await git(remote, ['rev-parse', 'main'])).toBe(r.pointer.commit);
    expect((await pointerAt('dev')).spec).toMatchObject({ release: sha('a'), aliases: { numeric: 1, branch: 'main-1' }, deployedBy: 'alice@example.test' });
    expect(await lastMessage()).toBe(`Deploy api to dev: release 1 (main-1)\n\nRepository: ${repository}\nRelease: ${sha('a')}\nDeployed by: alice@example.test`);
    expect(r.deployment).toMatchObject({ kind: 'deploy', release: { number: 1 }, pointerCommit: r.pointer.commit, deployedBy: 'alice@example.test' });

    const again = await deploy('dev', sha('a').slice(0, 7), { deployedBy: 'bob@example.test' });
    expect(again).toMatchObject({ changed: false, recorded: false, deployment: { id: r.deployment.id } });
    expect(again.previous).toBeUndefined();
    expect(again.pointer.commit).toBeUndefined();
    expect(await commits()).toBe(before + 1);
    expect(await deps.deployments.history('dev', repository, 'api')).toHaveLength(1);
  }, 60_000);

  test('the next release records what it replaced', async () => {
    const r = await deploy('dev', '2');
    expect(r).toMatchObject({ changed: true, release: { number: 2 }, previous: { number: 1 }, deployment: { previous: { number: 1, commit: sha('a') } } });
  }, 60_000);

  test('policy refusals name the rule and what the release had, and write nothing', async () => {
    const before = await commits();
    const branch = await failure(deploy('production', 'main-2'));
    expect(branch.code).toBe('POLICY_VIOLATION');
    expect(branch.message).toBe('release 2 (main-2) of acme/monorepo/api may not be deployed to production: production takes releases made by tag, manual; this one was made by branch_push (branch main)');
    expect(branch.details).toEqual([{ field: 'environments.production.allowedTriggers', message: 'production takes releases made by tag, manual; this one was made by branch_push (branch main)' }]);
    const feature = await failure(deploy('staging', 'feature/x-1'));
    expect(feature.message).toBe('release 4 (feature/x-1) of acme/monorepo/api may not be deployed to staging: staging takes releases from branches main, release/*; this one is from branch feature/x');
    expect(feature.details[0]!.field).toBe('environments.staging.allowedBranches');
    expect((await failure(deploy('qa', '1'))).message).toMatch(/no environment qa in the platform config \(known: dev, staging, production\)/);
    expect(await commits()).toBe(before);
    expect(await deps.deployments.latest('production', repository, 'api')).toBeUndefined();
    expect(await deps.deployments.latest('staging', repository, 'api')).toBeUndefined();
  }, 60_000);

  test('an unknown release is an error naming what was typed', async () => {
    const e = await failure(deploy('dev', 'api/v9.9.9'));
    expect(e.code).toBe('RECORD_FAILED');
    expect(e.message).toMatch(/^no release api\/v9\.9\.9 of acme\/monorepo\/api is recorded \(a release is named by an alias/);
    expect((await failure(deploy('dev', '77'))).message).toMatch(/^no release 77 of acme\/monorepo\/api/);
  });

  test('production needs an active approval: none, expired and revoked are refused; an active one deploys and is in the pointer', async () => {
    const before = await commits();
    const none = await failure(deploy('production', 'api/v1.0.0'));
    expect(none.code).toBe('POLICY_VIOLATION');
    expect(none.message).toBe(
      'production needs an active approval of release 3 (api/v1.0.0) of acme/monorepo/api, and there is none: approve it with `forge approve production acme/monorepo api 3 --by WHO --reason WHY`',
    );
    // One that ran out (written as the owner could, in the past).
    await records.db.query(
      "INSERT INTO approvals (repository, project, commit_sha, environment, approved_by, reason, approved_at, expires_at) VALUES ($1, 'api', $2, 'production', 'dave', 'old', now() - interval '2 days', now() - interval '1 day')",
      [repository, sha('c')],
    );
    expect((await failure(deploy('production', 'api/v1.0.0'))).message).toMatch(/and there is none \(1 expired: they do not count\): approve it with/);
    const revoked = await deps.approvals.approve({ repository, project: 'api', commit: sha('c'), environment: 'production', approvedBy: 'bob@example.test', reason: 'CAB-1' });
    await deps.approvals.revoke(revoked.id, 'carol@example.test', 'regression');
    expect((await failure(deploy('production', 'api/v1.0.0'))).message).toMatch(/and there is none \(1 expired, 1 revoked: they do not count\)/);
    // An approval for another environment does not count either.
    await deps.approvals.approve({ repository, project: 'api', commit: sha('c'), environment: 'staging', approvedBy: 'bob@example.test', reason: 'CAB-2' });
    await failure(deploy('production', 'api/v1.0.0'));
    expect(await commits()).toBe(before);

    const plan = await planDeployment({ repository, project: 'api', environment: 'production', release: 'api/v1.0.0' }, deps);
    expect(plan).toMatchObject({ allowed: true, requiresApproval: true, ready: false });
    const active = await deps.approvals.approve({ repository, project: 'api', commit: sha('c'), environment: 'production', approvedBy: 'erin@example.test', reason: 'CAB-3' });
    expect(await planDeployment({ repository, project: 'api', environment: 'production', release: '3' }, deps)).toMatchObject({ ready: true, approval: { id: active.id } });
    const r = await deploy('production', 'api/v1.0.0');
    expect(r).toMatchObject({ changed: true, approval: { id: active.id }, deployment: { approvalId: active.id } });
    expect((await pointerAt('production')).spec).toMatchObject({ release: sha('c'), aliases: { numeric: 3, tag: 'api/v1.0.0' }, approvedBy: 'erin@example.test', approvedAt: active.approvedAt.toISOString() });
    expect(await lastMessage()).toContain(`Approved by: erin@example.test at ${active.approvedAt.toISOString()}`);
    expect(await commits()).toBe(before + 1);
  }, 60_000);

  test("rollback: the older release's pointer, the reference's message, a rollback row with the release it replaced", async () => {
    // dev: 1 then 2 are deployed; nothing named → back to 1.
    const target = await rollbackTarget(deps.deployments, 'dev', repository, 'api');
    expect(target).toEqual({ commit: sha('a'), number: 1 });
    const r = await deploy('dev', target.commit, { kind: 'rollback', deployedBy: 'carol@example.test' });
    expect(r).toMatchObject({ changed: true, kind: 'rollback', release: { number: 1 }, previous: { number: 2 } });
    expect((await pointerAt('dev')).spec).toMatchObject({ release: sha('a'), aliases: { numeric: 1, branch: 'main-1' }, deployedBy: 'carol@example.test' });
    expect(await lastMessage()).toBe('Rollback api in dev to release 1 (main-1)\n\nPrevious release: 2 (main-2)\nRolled back by: carol@example.test');
    expect((await deps.deployments.history('dev', repository, 'api')).map((d) => [d.kind, d.release.number, d.previous?.number ?? null, d.pointerCommit === undefined])).toEqual([
      ['rollback', 1, 2, false],
      ['deploy', 2, 1, false],
      ['deploy', 1, null, false],
    ]);
    // A rollback to what is already there: no commit, and it says so.
    expect(await deploy('dev', '1', { kind: 'rollback' })).toMatchObject({ changed: false, recorded: false });
  }, 60_000);

  test('rollback with nothing to go back to is refused, naming why', async () => {
    expect((await failure(rollbackTarget(deps.deployments, 'staging', repository, 'api'))).message).toBe('nothing of acme/monorepo/api has been deployed to staging: there is nothing to roll back');
    await deploy('dev', 'web/v2.0.0', { project: 'web' });
    expect((await failure(rollbackTarget(deps.deployments, 'dev', repository, 'web'))).message).toBe('release 1 is the only release of acme/monorepo/web deployed to dev: name the release to roll back to');
  }, 60_000);

  test('a pointer that already names the release (records behind git) records the deployment without a commit', async () => {
    // Someone committed the staging pointer for release 2 by hand; the records know nothing of it.
    const work = join(tmp, 'hand');
    await execa('git', ['clone', '-q', remote, work]);
    const file = join(work, `environments/staging/${repository}/api/release.yaml`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, renderPointer({ environment: 'staging', repository, project: 'api', release: sha('b'), aliases: { numeric: 2, branch: 'main-2' }, deployedBy: 'ops' }, new Date().toISOString()));
    await git(work, ['add', '-A']);
    await git(work, ['-c', 'user.name=ops', '-c', 'user.email=ops@e', 'commit', '-q', '-m', 'by hand']);
    await git(work, ['push', '-q', 'origin', 'HEAD:main']);
    const before = await commits();
    const r = await deploy('staging', 'main-2');
    expect(r).toMatchObject({ changed: false, recorded: true, deployment: { release: { number: 2 } } });
    expect(r.deployment.pointerCommit).toBeUndefined();
    expect(await commits()).toBe(before);
  }, 60_000);

  test('concurrent deployments of one project to one environment take turns: each records the one it replaced', async () => {
    const results = await Promise.all(['main-1', 'main-2', 'api/v1.0.0'].map((ref) => deployRelease({ repository, project: 'api', environment: 'staging', release: ref, deployedBy: 'ci' }, deps)));
    const history = await deps.deployments.history('staging', repository, 'api');
    // Every row's previous is the release of the row before it.
    for (let i = 0; i < history.length - 1; i++) expect(history[i]!.previous?.id).toBe(history[i + 1]!.release.id);
    expect(results.filter((r) => r.recorded)).toHaveLength(history.length - 1); // before them: the one by hand
    expect((await pointerAt('staging')).spec.release).toBe(history[0]!.release.commit); // the last to record is what git says
  }, 60_000);
});

describe('deployRelease as the runtime role of a PostgreSQL server', () => {
  const postgres = postgresForSuite();

  test('an approved production deployment and a rollback, with only the runtime grants', async () => {
    const step = await openAsRuntimeRole(postgres(), 'deploy_roles');
    try {
      const releases = new ReleaseRecords(step);
      const pg: DeployDeps = { ...deps, releases, approvals: new ApprovalRecords(step), deployments: new DeploymentRecords(step) };
      await releases.recordRelease({ repository, project: 'jobs', commit: sha('1'), trigger: 'tag', tag: 'jobs/v1.0.0' });
      await releases.recordRelease({ repository, project: 'jobs', commit: sha('2'), trigger: 'manual' });
      for (const commit of [sha('1'), sha('2')]) await pg.approvals.approve({ repository, project: 'jobs', commit, environment: 'production', approvedBy: 'erin', reason: 'CAB-9' });
      const input = { repository, project: 'jobs', environment: 'production', deployedBy: 'ci' };
      expect(await deployRelease({ ...input, release: 'jobs/v1.0.0' }, pg)).toMatchObject({ changed: true, release: { number: 1 } });
      expect(await deployRelease({ ...input, release: '2' }, pg)).toMatchObject({ changed: true, previous: { number: 1 } });
      const back = await deployRelease({ ...input, release: (await rollbackTarget(pg.deployments, 'production', repository, 'jobs')).commit, kind: 'rollback' }, pg);
      expect(back).toMatchObject({ changed: true, kind: 'rollback', release: { number: 1 }, deployment: { kind: 'rollback', previous: { number: 2 } } });
      expect(await lastMessage()).toBe('Rollback jobs in production to release 1 (jobs/v1.0.0)\n\nPrevious release: 2\nRolled back by: ci\nApproved by: erin at ' + back.approval!.approvedAt.toISOString());
      expect((await pointerAt('production', 'jobs')).spec).toMatchObject({ release: sha('1'), approvedBy: 'erin' });
    } finally {
      await step.close();
    }
  }, 120_000);
});
