import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForgeError, isForgeError, type ForgeErrorCode } from '../errors.ts';
import type { Database, Queryable } from './db.ts';

/**
 * The records schema: checksummed `NNN_name.sql` migrations, applied by the database's owner
 * ({@link migrate}, `forge records migrate`) and only checked by the steps ({@link checkSchema}),
 * which run as a role that may not change the schema.
 */

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
}

/**
 * Migrations that do not match what the database has applied (an edited or missing file, a
 * database migrated by a newer forge, or not migrated at all).
 */
export const MIGRATION_MISMATCH: ForgeErrorCode = 'RECORD_FAILED';

/** What a person runs to create or update the schema, named by every "not migrated" error. */
export const MIGRATE_COMMAND = 'forge records migrate --database-url <owner URL> --runtime-role <step role>';

/**
 * The migrations next to this file. In the esbuild bundle `import.meta.url` is the bundle, so a
 * `migrations/` directory copied next to it is found the same way; FORGE_RECORDS_MIGRATIONS
 * overrides both.
 */
export function defaultMigrationsDir(): string {
  return process.env.FORGE_RECORDS_MIGRATIONS || fileURLToPath(new URL('./migrations/', import.meta.url));
}

/** Any constant works; it only has to be the same for every process migrating one database. */
const MIGRATION_LOCK_KEY = 7_146_283_011;
const MIGRATION_FILE = /^(\d+)_([a-z0-9][a-z0-9_-]*)\.sql$/;

/** Reads `NNN_name.sql` files in version order; a `.sql` file with another name is an error. */
export async function loadMigrations(dir = defaultMigrationsDir()): Promise<Migration[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    throw new ForgeError(MIGRATION_MISMATCH, `cannot read the records migrations in ${dir}: ${(e as Error).message}`, [], { cause: e });
  }
  const migrations: Migration[] = [];
  for (const file of entries.filter((f) => f.endsWith('.sql')).sort()) {
    const m = MIGRATION_FILE.exec(file);
    if (!m) {
      throw new ForgeError(MIGRATION_MISMATCH, `migration file name must be NNN_name.sql (digits, underscore, lowercase name)`, [{ file: join(dir, file), message: 'not a migration name' }]);
    }
    const bytes = await readFile(join(dir, file));
    migrations.push({
      version: Number(m[1]),
      name: m[2]!,
      file: join(dir, file),
      sql: bytes.toString('utf8'),
      checksum: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new ForgeError(MIGRATION_MISMATCH, `two migrations have version ${migrations[i]!.version}`, [
        { file: migrations[i - 1]!.file, message: 'same version' },
        { file: migrations[i]!.file, message: 'same version' },
      ]);
    }
  }
  if (migrations.length === 0) throw new ForgeError(MIGRATION_MISMATCH, `no migrations (NNN_name.sql) in ${dir}`);
  return migrations;
}

export interface MigrationResult {
  /** Migrations this call applied (empty when the schema was already current). */
  applied: Migration[];
  /** The schema version after the call. */
  version: number;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Every migration the database has applied must still be there, unchanged (sha256): a database
 * ahead of this code, or a migration file edited after it was applied, is refused instead of
 * silently drifting. Returns the migrations not applied yet.
 */
function pendingAfter(location: string, migrations: Migration[], applied: AppliedRow[]): Migration[] {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied) {
    const m = byVersion.get(row.version);
    if (!m) {
      throw new ForgeError(
        MIGRATION_MISMATCH,
        `the records database ${location} has migration ${row.version} (${row.name}) applied, which this version of forge does not have: ` +
          'it was migrated by a newer forge; use that version (or a newer one)',
      );
    }
    if (m.checksum !== row.checksum) {
      throw new ForgeError(
        MIGRATION_MISMATCH,
        `migration ${row.version} (${row.name}) was changed after it was applied to ${location}: ` + 'restore the file and put the change in a new migration',
        [{ file: m.file, message: `sha256 ${m.checksum}, applied ${row.checksum}` }],
      );
    }
  }
  const done = new Set(applied.map((r) => r.version));
  return migrations.filter((m) => !done.has(m.version));
}

const readApplied = (q: Queryable) => q.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version').then((r) => r.rows);

/**
 * Applies the pending migrations, all in one transaction that first takes a transaction-level
 * advisory lock: two processes migrating one server at once serialize, and the second finds
 * nothing left to do. Run it as the role that is to own the tables (never as the steps' role).
 */
export async function migrate(db: Database, opts: { dir?: string } = {}): Promise<MigrationResult> {
  const migrations = await loadMigrations(opts.dir);
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      checksum   text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = await readApplied(tx);
    const pending = pendingAfter(db.location, migrations, applied);
    for (const m of pending) {
      try {
        await tx.exec(m.sql);
      } catch (e) {
        const cause = isForgeError(e) ? e : undefined;
        throw new ForgeError(MIGRATION_MISMATCH, `migration ${m.version} (${m.name}) failed, nothing was applied: ${(e as Error).message}`, [{ file: m.file, message: 'this migration' }, ...(cause?.details ?? [])], { cause: e });
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
    }
    const version = Math.max(0, ...applied.map((r) => r.version), ...pending.map((m) => m.version));
    return { applied: pending, version };
  });
}

/**
 * What a step does instead of migrating a server: checks that the schema is exactly what this
 * forge expects (every migration applied, none changed, none unknown) and otherwise fails with an
 * error naming `forge records migrate`. Changes nothing. Returns the schema version.
 */
export async function checkSchema(db: Queryable & { location: string }, opts: { dir?: string } = {}): Promise<number> {
  const migrations = await loadMigrations(opts.dir);
  const latest = migrations[migrations.length - 1]!;
  const { rows } = await db.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  if (!rows[0]?.present) {
    throw new ForgeError(MIGRATION_MISMATCH, `the records database ${db.location} has no forge schema (it was never migrated): run \`${MIGRATE_COMMAND}\` once, as the database's owner`);
  }
  let applied: AppliedRow[];
  try {
    applied = await readApplied(db);
  } catch (e) {
    if (!/permission denied/i.test((e as Error).message)) throw e;
    throw new ForgeError(MIGRATION_MISMATCH, `the records database ${db.location} does not let this role read its schema version: run \`${MIGRATE_COMMAND}\` naming this role`, [], { cause: e });
  }
  const pending = pendingAfter(db.location, migrations, applied);
  if (pending.length > 0) {
    const version = Math.max(0, ...applied.map((r) => r.version));
    throw new ForgeError(
      MIGRATION_MISMATCH,
      `the records database ${db.location} is at schema version ${version}, this forge needs ${latest.version} ` +
        `(pending: ${pending.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`).join(', ')}): run \`${MIGRATE_COMMAND}\` first, as the database's owner`,
    );
  }
  return latest.version;
}
