import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../test/helpers/forge-error.ts';
import { postgresForSuite } from '../../../test/helpers/postgres-suite.ts';
import { openAsRuntimeRole, tempRecordsDatabase } from '../../../test/helpers/records.ts';
import { ApprovalRecords } from './approvals.ts';
import type { Database } from './db.ts';
import { DeploymentRecords } from './deployments.ts';
import { ReleaseRecords, type Release } from './releases.ts';

// Deployment records: one append-only row per deployment, on PGlite and as the runtime role of a
// PostgreSQL server (which may insert the deployment columns, never choose when or rewrite one).
const sha = (c: string) => c.repeat(40);
const repo = 'acme/monorepo';

async function seed(db: Database): Promise<{ r1: Release; r2: Release; other: Release }> {
  const releases = new ReleaseRecords(db);
  const r1 = await releases.recordRelease({ repository: repo, project: 'api', commit: sha('a'), trigger: 'branch', branch: 'main' });
  const r2 = await releases.recordRelease({ repository: repo, project: 'api', commit: sha('b'), trigger: 'tag', tag: 'api/v1.0.0' });
  const other = await releases.recordRelease({ repository: repo, project: 'web', commit: sha('c'), trigger: 'manual' });
  return { r1, r2, other };
}

describe('deployments (PGlite)', () => {
  let t: Awaited<ReturnType<typeof tempRecordsDatabase>>;
  let deployments: DeploymentRecords;
  let r: Awaited<ReturnType<typeof seed>>;

  beforeAll(async () => {
    t = await tempRecordsDatabase('forge-deployments');
    deployments = new DeploymentRecords(t.db);
    r = await seed(t.db);
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('records deployments and reads the latest and the history per environment and project, newest first', async () => {
    expect(await deployments.latest('dev', repo, 'api')).toBeUndefined();
    const first = await deployments.record({ repository: repo, project: 'api', releaseId: r.r1.id, environment: 'dev', kind: 'deploy', pointerCommit: sha('1'), deployedBy: 'alice' });
    expect(first).toMatchObject({ environment: 'dev', kind: 'deploy', release: { id: r.r1.id, number: 1, commit: sha('a') }, pointerCommit: sha('1'), deployedBy: 'alice' });
    expect(first.previous).toBeUndefined();
    expect(Math.abs(first.deployedAt.getTime() - Date.now())).toBeLessThan(60_000);
    const second = await deployments.record({ repository: repo, project: 'api', releaseId: r.r2.id, environment: 'dev', kind: 'deploy', previousReleaseId: r.r1.id, deployedBy: 'bob' });
    expect(second).toMatchObject({ release: { number: 2 }, previous: { id: r.r1.id, number: 1, commit: sha('a') } });
    expect(second.pointerCommit).toBeUndefined(); // the pointer already said it
    const back = await deployments.record({ repository: repo, project: 'api', releaseId: r.r1.id, environment: 'dev', kind: 'rollback', previousReleaseId: r.r2.id, pointerCommit: sha('2'), deployedBy: 'carol' });
    expect((await deployments.latest('dev', repo, 'api'))?.id).toBe(back.id);
    expect((await deployments.history('dev', repo, 'api')).map((d) => [d.kind, d.release.number, d.previous?.number])).toEqual([['rollback', 1, 2], ['deploy', 2, 1], ['deploy', 1, undefined]]);
    expect(await deployments.latest('staging', repo, 'api')).toBeUndefined();
    expect(await deployments.latest('dev', repo, 'web')).toBeUndefined();
  });

  it("refuses a release of another project, an approval of another release or environment, and a bad row", async () => {
    const e = await failure(deployments.record({ repository: repo, project: 'api', releaseId: r.other.id, environment: 'dev', kind: 'deploy', deployedBy: 'alice' }));
    expect(e.message).toBe(`release ${r.other.id} is not a recorded release of ${repo}/api`);
    expect((await failure(deployments.record({ repository: repo, project: 'api', releaseId: r.r2.id, previousReleaseId: r.other.id, environment: 'dev', kind: 'deploy', deployedBy: 'alice' }))).message).toBe(
      `release ${r.other.id} is not a recorded release of ${repo}/api`,
    );
    const approvals = new ApprovalRecords(t.db);
    const forStaging = await approvals.approve({ repository: repo, project: 'api', commit: sha('b'), environment: 'staging', approvedBy: 'dan', reason: 'ok' });
    const forR1 = await approvals.approve({ repository: repo, project: 'api', commit: sha('a'), environment: 'production', approvedBy: 'dan', reason: 'ok' });
    for (const a of [forStaging, forR1]) {
      const x = await failure(deployments.record({ repository: repo, project: 'api', releaseId: r.r2.id, approvalId: a.id, environment: 'production', kind: 'deploy', deployedBy: 'alice' }));
      expect(x.message).toBe(`approval ${a.id} is not an approval of release ${r.r2.id} for production`);
    }
    const bad = await failure(deployments.record({ repository: repo, project: 'api', releaseId: 'nope', environment: 'Prod', kind: 'redeploy' as 'deploy', pointerCommit: 'HEAD', deployedBy: '' }));
    expect(bad.code).toBe('RECORD_FAILED');
    expect(bad.details.map((d) => d.field)).toEqual(['releaseId', 'environment', 'kind', 'pointerCommit', 'deployedBy']);
  });

  it('is append-only', async () => {
    await expect(t.db.query("UPDATE deployments SET deployed_by = 'mallory'")).rejects.toThrow(/deployments is append-only: UPDATE is not allowed/);
    await expect(t.db.query('DELETE FROM deployments')).rejects.toThrow(/deployments is append-only: DELETE is not allowed/);
    await expect(t.db.query('TRUNCATE deployments')).rejects.toThrow(/deployments is append-only: TRUNCATE is not allowed/);
  });
});

describe('deployments as the runtime role (PostgreSQL server)', () => {
  const postgres = postgresForSuite();

  it('records a deployment (no sequence grant needed), but cannot choose deployed_at or the order, or rewrite a row', async () => {
    const step = await openAsRuntimeRole(postgres(), 'deployments_roles');
    try {
      const r = await seed(step);
      const deployments = new DeploymentRecords(step);
      const d = await deployments.record({ repository: repo, project: 'api', releaseId: r.r1.id, environment: 'dev', kind: 'deploy', pointerCommit: sha('1'), deployedBy: 'alice' });
      expect((await deployments.latest('dev', repo, 'api'))?.id).toBe(d.id);
      await expect(step.query("INSERT INTO deployments (repository, project, release_id, environment, kind, deployed_by, deployed_at) VALUES ($1, 'api', $2, 'dev', 'deploy', 'eve', now() - interval '1 year')", [repo, r.r2.id])).rejects.toThrow(
        /permission denied for table deployments/,
      );
      await expect(step.query("INSERT INTO deployments (seq, repository, project, release_id, environment, kind, deployed_by) OVERRIDING SYSTEM VALUE VALUES (0, $1, 'api', $2, 'dev', 'deploy', 'eve')", [repo, r.r2.id])).rejects.toThrow(
        /permission denied for table deployments/,
      );
      await expect(step.query("UPDATE deployments SET deployed_by = 'eve'")).rejects.toThrow(/permission denied/);
      await expect(step.query('DELETE FROM deployments')).rejects.toThrow(/permission denied/);
    } finally {
      await step.close();
    }
  }, 120_000);
});
