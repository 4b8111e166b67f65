import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForSuite } from '../../../test/helpers/postgres-suite.ts';
import { openAsRuntimeRole } from '../../../test/helpers/records.ts';
import { ForgeError } from '../errors.ts';
import { ApprovalRecords } from './approvals.ts';
import { openDatabase, type Database } from './db.ts';
import { ReleaseRecords } from './releases.ts';

// Approvals with identity and expiry, on PGlite and as the runtime role of a PostgreSQL server.
const sha = (c: string) => c.repeat(40);
const base = { repository: 'acme/monorepo', project: 'api', commit: sha('a'), environment: 'production', approvedBy: 'bob@example.test', reason: 'CAB-123: release 1.2.0' };

describe('approvals (PGlite)', () => {
  let dir: string;
  let db: Database;
  let approvals: ApprovalRecords;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-approvals-'));
    db = await openDatabase({ dataDir: join(dir, 'data') });
    approvals = new ApprovalRecords(db);
    await new ReleaseRecords(db).recordRelease({ repository: 'acme/monorepo', project: 'api', commit: sha('a'), trigger: 'tag', tag: 'api/v1.2.0' });
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('records who, when, why and until when (24 h by default, by the database clock)', async () => {
    const a = await approvals.approve(base);
    expect(a).toMatchObject({ approvedBy: 'bob@example.test', reason: 'CAB-123: release 1.2.0', status: 'active', environment: 'production' });
    expect(a.expiresAt.getTime() - a.approvedAt.getTime()).toBe(24 * 3600_000);
    expect(Math.abs(a.approvedAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect((await approvals.active('acme/monorepo', 'api', sha('a'), 'production'))?.id).toBe(a.id);
    expect(await approvals.active('acme/monorepo', 'api', sha('a'), 'staging')).toBeUndefined(); // per environment
  });

  it('a revoked or expired approval does not count; both stay on record', async () => {
    const a = (await approvals.active('acme/monorepo', 'api', sha('a'), 'production'))!;
    const revoked = await approvals.revoke(a.id, 'carol@example.test', 'found a regression');
    expect(revoked).toMatchObject({ status: 'revoked', revokedBy: 'carol@example.test' });
    await expect(approvals.revoke(a.id, 'carol@example.test', 'again')).rejects.toThrow(`approval ${a.id} was already revoked`);
    // One that ran out (written as the owner could, in the past).
    await db.query("INSERT INTO approvals (repository, project, commit_sha, environment, approved_by, reason, approved_at, expires_at) VALUES ('acme/monorepo', 'api', $1, 'production', 'dave', 'old', now() - interval '2 days', now() - interval '1 day')", [sha('a')]);
    expect(await approvals.active('acme/monorepo', 'api', sha('a'), 'production')).toBeUndefined();
    expect((await approvals.list('acme/monorepo', 'api', sha('a'), 'production')).map((x) => [x.approvedBy, x.status])).toEqual([['bob@example.test', 'revoked'], ['dave', 'expired']]);
    await expect(db.query("UPDATE approvals SET expires_at = now() + interval '1 day'")).rejects.toThrow(/approvals is append-only: UPDATE is not allowed/);
    await expect(db.query('DELETE FROM approval_revocations')).rejects.toThrow(/approval_revocations is append-only: DELETE is not allowed/);
  });

  it('refuses an approval of a release that was never recorded, without a reason, or longer than 30 days', async () => {
    await expect(approvals.approve({ ...base, commit: sha('b') })).rejects.toThrow(`no release of acme/monorepo/api at ${sha('b')} is recorded: nothing to approve`);
    const e = (await approvals.approve({ ...base, reason: '  ' }).catch((x: unknown) => x)) as ForgeError;
    expect(e.details).toEqual([{ field: 'reason', message: 'an approval says why' }]);
    await expect(approvals.approve({ ...base, ttlHours: 24 * 31 })).rejects.toThrow(ForgeError);
  });
});

describe('approvals as the runtime role (PostgreSQL server)', () => {
  const postgres = postgresForSuite();

  it('approves and revokes, but cannot choose approved_at or stretch an expiry', async () => {
    const step = await openAsRuntimeRole(postgres(), 'approvals_roles');
    try {
      await new ReleaseRecords(step).recordRelease({ repository: 'acme/monorepo', project: 'api', commit: sha('a'), trigger: 'manual' });
      const approvals = new ApprovalRecords(step);
      const a = await approvals.approve(base);
      expect((await approvals.revoke(a.id, 'carol', 'no')).status).toBe('revoked');
      await expect(step.query("INSERT INTO approvals (repository, project, commit_sha, environment, approved_by, reason, approved_at, expires_at) VALUES ('acme/monorepo', 'api', $1, 'production', 'eve', 'x', now() - interval '1 day', now() + interval '1 day')", [sha('a')])).rejects.toThrow(/permission denied for table approvals/);
      await expect(step.query("INSERT INTO approvals (repository, project, commit_sha, environment, approved_by, reason, expires_at) VALUES ('acme/monorepo', 'api', $1, 'production', 'eve', 'x', now() + interval '1 year')", [sha('a')])).rejects.toThrow(/approvals_expiry/);
      await expect(step.query('DELETE FROM approval_revocations')).rejects.toThrow(/permission denied/);
    } finally {
      await step.close();
    }
  }, 120_000);
});
