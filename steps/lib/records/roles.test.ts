import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../test/helpers/forge-error.ts';
import { startPostgres, type PostgresServer } from '../../../test/helpers/postgres.ts';
import { openDatabase, type Database } from './db.ts';
import { checkRuntimeRole, grantRuntimeRole, RUNTIME_INSERT_COLUMNS } from './roles.ts';

/**
 * The runtime role's grants, in this process (migrate.test.ts drives `forge records migrate` and
 * attacks the trail as that role): on a real PostgreSQL server, read back from the catalog.
 */

const TABLES = ['schema_migrations', 'promotions', 'promotion_events', 'pipeline_runs', 'task_executions', 'step_executions', 'releases', 'approvals', 'approval_revocations', 'deployments'];
const OWNER_PW = 'owner-Pw-2b8e';

let server: PostgresServer | undefined;
let owner: Database | undefined;
let location: string;

beforeAll(async () => {
  server = await startPostgres({ passwords: true });
  await server.query(`CREATE ROLE forge_owner LOGIN PASSWORD '${OWNER_PW}'`);
  for (const role of ['forge_step', 'forge_again', 'forge_member', 'forge_checked', 'forge_squatter']) await server.query(`CREATE ROLE ${role} LOGIN`);
  await server.query('CREATE ROLE forge_admin SUPERUSER LOGIN');
  await server.query('CREATE ROLE forge_rls BYPASSRLS LOGIN');
  await server.query('GRANT forge_owner TO forge_member');
  const url = new URL(await server.createDatabase('records', 'forge_owner'));
  owner = await openDatabase({ url: `postgresql://forge_owner:${OWNER_PW}@${url.host}/records`, schema: 'migrate' });
  location = `postgresql://${url.host}/records`;
}, 120_000);
afterAll(async () => {
  await owner?.close();
  await server?.stop();
});

/** What `role` may do, read from the catalog as the superuser. */
async function privileges(role: string) {
  const q = async <T>(sql: string, params: unknown[] = []) => server!.query<T>(sql, params, 'records');
  const tables: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await q<{ p: string; has: boolean }>(
      `SELECT p, has_table_privilege($1, $2, p) AS has FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS p`,
      [role, `public.${table}`],
    );
    tables[table] = rows.filter((r) => r.has).map((r) => r.p);
  }
  const insertColumns: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await q<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = $2::regclass AND attnum > 0 AND NOT attisdropped AND has_column_privilege($1, $2, attname, 'INSERT') ORDER BY attnum`,
      [role, `public.${table}`],
    );
    insertColumns[table] = rows.map((r) => r.attname);
  }
  const [sequence = { usage: false, update: false }] = await q<{ usage: boolean; update: boolean }>(
    `SELECT has_sequence_privilege($1, 'public.promotion_events_id_seq', 'USAGE') AS usage, has_sequence_privilege($1, 'public.promotion_events_id_seq', 'UPDATE') AS update`,
    [role],
  );
  const [schema = { usage: false, create: false }] = await q<{ usage: boolean; create: boolean }>(`SELECT has_schema_privilege($1, 'public', 'USAGE') AS usage, has_schema_privilege($1, 'public', 'CREATE') AS create`, [role]);
  return { tables, insertColumns, sequence, schema };
}

describe('grantRuntimeRole: SELECT and INSERT of the step columns, nothing else', () => {
  it('grants exactly what recording needs, and says what it ran', async () => {
    const before = await privileges('forge_step');
    expect(before.tables.promotions).toEqual([]);
    const granted = await grantRuntimeRole(owner!, 'forge_step');
    expect(granted).toEqual({
      role: 'forge_step',
      statements: [
        'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
        `REVOKE ALL ON ${TABLES.join(', ')} FROM PUBLIC, forge_step`,
        'REVOKE ALL ON SEQUENCE promotion_events_id_seq FROM PUBLIC, forge_step',
        'GRANT USAGE ON SCHEMA public TO forge_step',
        `GRANT SELECT ON ${TABLES.join(', ')} TO forge_step`,
        ...Object.entries(RUNTIME_INSERT_COLUMNS).map(([table, columns]) => `GRANT INSERT (${columns.join(', ')}) ON ${table} TO forge_step`),
        'GRANT USAGE ON SEQUENCE promotion_events_id_seq TO forge_step',
      ],
    });
    const after = await privileges('forge_step');
    // INSERT on some columns shows as has_table_privilege(INSERT) = false; SELECT is on every table.
    expect(after.tables).toEqual(Object.fromEntries(TABLES.map((t) => [t, ['SELECT']])));
    expect(after.insertColumns).toEqual({ schema_migrations: [], ...RUNTIME_INSERT_COLUMNS });
    expect(after.sequence).toEqual({ usage: true, update: false });
    expect(after.schema).toEqual({ usage: true, create: false });
  });

  it('converges: what the role had beyond that is taken away, also what PUBLIC had', async () => {
    await server!.query('GRANT ALL ON ALL TABLES IN SCHEMA public TO forge_again', [], 'records');
    await server!.query('GRANT ALL ON SEQUENCE promotion_events_id_seq TO forge_again, PUBLIC', [], 'records');
    await server!.query('GRANT UPDATE ON promotions TO PUBLIC', [], 'records');
    await server!.query('GRANT CREATE ON SCHEMA public TO PUBLIC', [], 'records');
    expect((await privileges('forge_again')).tables.promotion_events).toEqual(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']);
    await grantRuntimeRole(owner!, 'forge_again');
    await grantRuntimeRole(owner!, 'forge_again');
    const after = await privileges('forge_again');
    expect(after.tables).toEqual(Object.fromEntries(TABLES.map((t) => [t, ['SELECT']])));
    expect(after.insertColumns).toEqual({ schema_migrations: [], ...RUNTIME_INSERT_COLUMNS });
    expect(after.sequence).toEqual({ usage: true, update: false });
    expect(after.schema).toEqual({ usage: true, create: false });
    // PUBLIC (every other role) kept nothing.
    expect((await privileges('forge_squatter')).tables.promotions).toEqual([]);
    expect((await privileges('forge_squatter')).schema.create).toBe(false);
  });
});

describe('refused runtime roles', () => {
  const at = () => location;
  it.each([
    ['forge_owner', 'it is (or is a member of) the role running the migration, which owns the tables: the steps need a role of their own'],
    ['forge_member', 'it is (or is a member of) the role running the migration, which owns the tables: the steps need a role of their own'],
    ['forge_admin', 'it is a superuser or bypasses row security, so no grant can hold it: use a plain LOGIN role'],
    ['forge_rls', 'it is a superuser or bypasses row security, so no grant can hold it: use a plain LOGIN role'],
    ['nobody', "no such role: create it first (CREATE ROLE nobody LOGIN PASSWORD '…'), then run this again"],
  ])('%s', async (role, why) => {
    for (const check of [checkRuntimeRole, grantRuntimeRole]) {
      const e = await failure(check(owner!, role));
      expect(e.code).toBe('INVALID_ARGS');
      expect(e.message).toBe(`--runtime-role ${role} on ${at()}: ${why}`);
    }
  });

  it('a role that owns a records table, naming what it owns', async () => {
    await server!.query('ALTER TABLE promotion_events OWNER TO forge_squatter', [], 'records');
    await server!.query('ALTER SEQUENCE promotion_events_id_seq OWNER TO forge_squatter', [], 'records');
    try {
      for (const check of [checkRuntimeRole, grantRuntimeRole]) {
        const e = await failure(check(owner!, 'forge_squatter'));
        expect(e.message).toBe(
          `--runtime-role forge_squatter on ${at()}: it owns promotion_events, promotion_events_id_seq: give the tables to the owner first (ALTER TABLE … OWNER TO the owner role), then run this again`,
        );
      }
      // Refused before any grant: nothing on the tables it does not own.
      expect((await privileges('forge_squatter')).tables.promotions).toEqual([]);
    } finally {
      await server!.query('REASSIGN OWNED BY forge_squatter TO forge_owner', [], 'records');
    }
  });

  it.each(['Forge_step', 'x; DROP TABLE promotions', '1step', '', 'a'.repeat(64), 'forge-step'])('the name %j, before any query', async (role) => {
    const e = await failure(grantRuntimeRole(owner!, role));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toBe(`--runtime-role ${JSON.stringify(role)} is not a plain role name: lowercase letters, digits and _, starting with a letter or _`);
    expect((await failure(checkRuntimeRole(owner!, role))).message).toBe(e.message);
  });

  it('accepts the longest plain name PostgreSQL keeps (63 characters) and one starting with _', async () => {
    for (const role of [`_${'a'.repeat(62)}`, 'x']) {
      await server!.query(`CREATE ROLE ${role} LOGIN`);
      await checkRuntimeRole(owner!, role);
      expect((await grantRuntimeRole(owner!, role)).role).toBe(role);
    }
  });

  it('checkRuntimeRole changes nothing for a safe role', async () => {
    await checkRuntimeRole(owner!, 'forge_checked');
    const p = await privileges('forge_checked');
    expect(p.tables.promotions).toEqual([]);
    expect(p.insertColumns.promotions).toEqual([]);
    expect(p.sequence.usage).toBe(false);
  });

  it('PGlite has one user: a runtime role is refused there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-roles-'));
    const pglite = await openDatabase({ dataDir: join(dir, 'db') });
    try {
      for (const check of [checkRuntimeRole, grantRuntimeRole]) {
        const e = await failure(check(pglite, 'forge_step'));
        expect(e.code).toBe('INVALID_ARGS');
        expect(e.message).toBe('--runtime-role needs a PostgreSQL server (--database-url): PGlite has a single user');
      }
    } finally {
      await pglite.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
