import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../test/helpers/postgres.ts';
import { openDatabase } from '../lib/records/db.ts';
import { forge } from './forge-process.ts';

/**
 * Issue 8 case 7: the audit trail is append-only against the steps' own role. On a real
 * PostgreSQL server with password authentication: `forge records migrate` runs as the owner and
 * grants the runtime role; `forge record` works as the runtime role; the runtime role cannot
 * change, remove or forge what is recorded, nor the schema.
 */

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const TRUSTED = 'registry.example.test:5000/trusted/app';
const OWNER_PW = 'owner-Pw-7f3a';
const STEP_PW = 'step-Pw-91c2';

describe('forge records migrate: owner and runtime roles on a PostgreSQL server', () => {
  let server: PostgresServer | undefined;
  let ownerUrl: string;
  let stepUrl: string;
  let step: pg.Client;

  beforeAll(async () => {
    server = await startPostgres({ passwords: true });
    await server.query(`CREATE ROLE forge_owner LOGIN PASSWORD '${OWNER_PW}'`);
    await server.query(`CREATE ROLE forge_step LOGIN PASSWORD '${STEP_PW}'`);
    const url = new URL(await server.createDatabase('records', 'forge_owner'));
    ownerUrl = `postgresql://forge_owner:${OWNER_PW}@${url.host}/records`;
    stepUrl = `postgresql://forge_step:${STEP_PW}@${url.host}/records`;
  });

  afterAll(async () => {
    await step?.end().catch(() => undefined);
    await server?.stop();
  });

  it('a step refuses a database that was never migrated, naming forge records migrate, and changes nothing', async () => {
    const r = await forge(['record', '--trusted-reference', `${TRUSTED}@${digest('a')}`, '--source-reference', 'in.example.test/app:1'], { FORGE_DATABASE_URL: stepUrl });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`error: RECORD_FAILED: the records database postgresql://127.0.0.1:${server!.port}/records has no forge schema (it was never migrated): run \`forge records migrate --database-url <owner URL> --runtime-role <step role>\` once, as the database's owner`);
    // forge promote opens the records before any registry call, and refuses the same way.
    const promote = await forge([
      'promote', 'incoming.example.test/team/app:1', '--incoming', 'incoming.example.test/team', '--trusted', 'trusted.example.test/team',
      '--key', 'cosign.pub', '--transparency-log', 'false', '--scanner-key', 'scanner.pub', '--promotion-key', 'k.key', '--promotion-pub', 'k.pub',
      '--database-url', stepUrl,
    ]);
    expect(promote.exitCode).toBe(1);
    expect(promote.stderr).toContain(`error: RECORD_FAILED: the records database postgresql://127.0.0.1:${server!.port}/records has no forge schema (it was never migrated)`);
    expect(await server!.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", [], 'records')).toEqual([]);
  });

  it('migrates as the owner and grants the runtime role (twice: the second run converges)', async () => {
    const first = await forge(['records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'forge_step']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toBe(
      `postgresql://127.0.0.1:${server!.port}/records: schema version 7 (applied 001_promotions, 002_append_only_events, 003_executions, 004_execution_rounds, 005_releases, 006_approvals, 007_deployments)\n` +
        'runtime role forge_step: SELECT and INSERT (step columns) on the records, nothing else',
    );
    const again = await forge(['records', 'migrate', '--runtime-role', 'forge_step', '--output', 'json'], { FORGE_DATABASE_URL: ownerUrl });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 7, applied: [], runtimeRole: { role: 'forge_step' } });
    const owners = await server!.query<{ tablename: string; tableowner: string }>("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", [], 'records');
    expect(owners).toEqual(['approval_revocations', 'approvals', 'deployments', 'pipeline_runs', 'promotion_events', 'promotions', 'releases', 'schema_migrations', 'step_executions', 'task_executions'].map((t) => ({ tablename: t, tableowner: 'forge_owner' })));
  });

  it('refuses runtime roles that would keep the power to rewrite the trail', async () => {
    await server!.query('CREATE ROLE forge_admin SUPERUSER LOGIN');
    const [self, superuser, missing, quoted] = await Promise.all([
      forge(['records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'forge_owner']),
      forge(['records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'forge_admin']),
      forge(['records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'nobody']),
      forge(['records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'x; DROP TABLE promotions']),
    ]);
    const at = `postgresql://127.0.0.1:${server!.port}/records`;
    expect(self.stderr).toContain(`error: INVALID_ARGS: --runtime-role forge_owner on ${at}: it is (or is a member of) the role running the migration, which owns the tables: the steps need a role of their own`);
    expect(superuser.stderr).toContain(`error: INVALID_ARGS: --runtime-role forge_admin on ${at}: it is a superuser or bypasses row security, so no grant can hold it: use a plain LOGIN role`);
    expect(missing.stderr).toContain(`error: INVALID_ARGS: --runtime-role nobody on ${at}: no such role: create it first`);
    expect(quoted.stderr).toContain('error: INVALID_ARGS: --runtime-role "x; DROP TABLE promotions" is not a plain role name');
    for (const r of [self, superuser, missing, quoted]) expect(r.exitCode).toBe(2);
  });

  it('forge record works as the runtime role: a promotion, a repeat and a refusal', async () => {
    const args = ['record', '--trusted-reference', `${TRUSTED}@${digest('a')}`, '--source-reference', 'in.example.test/app:1', '--output', 'json'];
    const [first, repeat] = [await forge(args, { FORGE_DATABASE_URL: stepUrl }), await forge(args, { FORGE_DATABASE_URL: stepUrl })];
    expect(first.exitCode, first.stderr).toBe(0);
    expect(repeat.exitCode, repeat.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'promoted', created: true, database: { kind: 'postgres', location: `postgresql://127.0.0.1:${server!.port}/records` } });
    expect(JSON.parse(repeat.stdout)).toMatchObject({ outcome: 'already-promoted', created: false, id: JSON.parse(first.stdout).id });
    const refusal = await forge(['record', '--outcome', 'refused', '--check', 'signature', '--message', 'unsigned', '--source-reference', `in.example.test/app@${digest('b')}`], {
      FORGE_DATABASE_URL: stepUrl,
    });
    expect(refusal.exitCode, refusal.stderr).toBe(0);
    const rows = await server!.query<{ outcome: string }>('SELECT outcome FROM promotion_events ORDER BY id', [], 'records');
    expect(rows.map((r) => r.outcome)).toEqual(['promoted', 'already-promoted', 'refused']);
  });

  it('the runtime role cannot update, delete, truncate, disable triggers, drop, alter, backdate or insert where it need not', async () => {
    step = new pg.Client({ connectionString: stepUrl });
    await step.connect();
    const attempt = async (sql: string) => {
      try {
        await step.query(sql);
        return 'allowed';
      } catch (e) {
        return `${(e as { code?: string }).code}: ${(e as Error).message}`;
      }
    };
    const attacks = {
      update: await attempt("UPDATE promotion_events SET outcome = 'promoted', message = 'rewritten'"),
      updateAllowlist: await attempt(`UPDATE promotions SET digest = '${digest('c')}'`),
      delete: await attempt('DELETE FROM promotion_events'),
      deleteAllowlist: await attempt('DELETE FROM promotions'),
      truncate: await attempt('TRUNCATE promotion_events'),
      disableTrigger: await attempt('ALTER TABLE promotion_events DISABLE TRIGGER promotion_events_no_update_delete'),
      disableAllTriggers: await attempt('ALTER TABLE promotion_events DISABLE TRIGGER ALL'),
      drop: await attempt('DROP TABLE promotion_events'),
      dropFunction: await attempt('DROP FUNCTION promotion_events_append_only() CASCADE'),
      alterColumn: await attempt('ALTER TABLE promotions DROP CONSTRAINT promotions_digest_format'),
      fakeMigration: await attempt("INSERT INTO schema_migrations (version, name, checksum) VALUES (3, 'x', 'x')"),
      backdatedRow: await attempt(`INSERT INTO promotions (trusted_repository, digest, source_reference, promoted_at) VALUES ('${TRUSTED}', '${digest('d')}', 'x', '2000-01-01')`),
      chosenEventId: await attempt("INSERT INTO promotion_events (id, source_reference, outcome, message) VALUES (1000, 'x', 'refused', 'x')"),
      newTable: await attempt('CREATE TABLE public.shadow (x int)'),
      replaceFunction: await attempt("CREATE OR REPLACE FUNCTION promotion_events_append_only() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'"),
    };
    console.info(Object.entries(attacks).map(([name, outcome]) => `${name.padEnd(18)} ${outcome}`).join('\n'));
    for (const [name, outcome] of Object.entries(attacks)) expect(outcome, name).toMatch(/^42501: (permission denied|must be owner)/);
    expect(attacks.truncate).toBe('42501: permission denied for table promotion_events');
    expect(attacks.disableTrigger).toBe('42501: must be owner of table promotion_events');
    // What the steps do is still allowed (and the database fills in ids and timestamps).
    expect(await attempt(`INSERT INTO promotions (trusted_repository, digest, source_reference) VALUES ('${TRUSTED}', '${digest('e')}', 'x')`)).toBe('allowed');
    const rows = await server!.query<{ outcome: string; message: string }>('SELECT outcome, message FROM promotion_events ORDER BY id', [], 'records');
    expect(rows.map((r) => r.outcome)).toEqual(['promoted', 'already-promoted', 'refused']);
    expect(rows.some((r) => r.message === 'rewritten')).toBe(false);
  });

  it('upgrades a database the step role migrated itself: refused until its tables are given to the owner', async () => {
    await server!.query('CREATE DATABASE legacy OWNER forge_step');
    const legacyStep = stepUrl.replace(/\/records$/, '/legacy');
    const legacyOwner = ownerUrl.replace(/\/records$/, '/legacy');
    // How it was: the step's own role migrates on open and owns everything.
    await (await openDatabase({ url: legacyStep, schema: 'migrate' })).close();
    const refused = await forge(['records', 'migrate', '--database-url', legacyOwner, '--runtime-role', 'forge_step']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `error: INVALID_ARGS: --runtime-role forge_step on postgresql://127.0.0.1:${server!.port}/legacy: it owns approval_revocations, approvals, deployments, pipeline_runs, promotion_events, promotion_events_id_seq, promotions, releases, schema_migrations, step_executions, task_executions: give the tables to the owner first`,
    );
    await server!.query('REASSIGN OWNED BY forge_step TO forge_owner', [], 'legacy');
    const migrated = await forge(['records', 'migrate', '--database-url', legacyOwner, '--runtime-role', 'forge_step']);
    expect(migrated.exitCode, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain('/legacy: schema version 7 (already current)');
    const client = new pg.Client({ connectionString: legacyStep });
    await client.connect();
    try {
      await expect(client.query('ALTER TABLE promotion_events DISABLE TRIGGER ALL')).rejects.toThrow('must be owner of table promotion_events');
    } finally {
      await client.end();
    }
  });

  it('a step refuses a schema older than its migrations, naming the pending ones', async () => {
    // The owner rolls the version record back as if 007 had never been applied.
    await server!.query('DELETE FROM schema_migrations WHERE version = 7', [], 'records');
    const r = await forge(['record', '--outcome', 'failed', '--message', 'x', '--source-reference', 'in.example.test/app:1'], { FORGE_DATABASE_URL: stepUrl });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      `error: RECORD_FAILED: the records database postgresql://127.0.0.1:${server!.port}/records is at schema version 6, this forge needs 7 (pending: 007_deployments): run \`forge records migrate`,
    );
  });
});
