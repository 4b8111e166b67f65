import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool, PoolClient } from 'pg';
import { ForgeError, isForgeError, type ForgeErrorCode } from '../errors.ts';
import { redactUrl } from '../log.ts';
import { withKeyedLock } from '../keyed-lock.ts';

/**
 * The records database: PostgreSQL through `pg` (a server, what a cluster runs) or PGlite (an
 * embedded PostgreSQL in a local directory, the default for local runs). Both sit behind one small
 * interface, and the same SQL runs on both.
 */

/** Something SQL can be sent to: the database itself, or one transaction of it. */
export interface Queryable {
  /** One statement, `$1`-style parameters. jsonb comes back parsed, timestamptz as Date. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** A script of several statements, without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Where the data is, safe to log and print (a URL without credentials, or a directory). */
  readonly location: string;
  /** Runs `fn` in one transaction (READ COMMITTED): committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the lock named `key`: with a server, a session advisory lock, so
   * every process using that server takes turns; with PGlite (one process), an in-process lock.
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Always await this: a PGlite data directory left open makes the next open of it hang. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** `postgresql://user:password@host:port/db`: use that server through a `pg` pool. */
  url?: string;
  /** Without `url`: the PGlite data directory (default {@link defaultDataDir}). */
  dataDir?: string;
  /** Where the `NNN_name.sql` migrations are (default {@link defaultMigrationsDir}). */
  migrationsDir?: string;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /** Connections in the `pg` pool (default 10). */
  maxConnections?: number;
  /** How long to wait for a `pg` connection (default 10 s; an unreachable server must not hang a step). */
  connectTimeoutMs?: number;
}

/** A database that cannot be reached, or refuses a statement. */
export const RECORDS_FAILED: ForgeErrorCode = 'RECORD_FAILED';
/**
 * Migrations that do not match what the database has applied (an edited or missing file, a
 * database migrated by a newer forge). Worth a code of its own (MIGRATION_MISMATCH) in errors.ts.
 */
export const MIGRATION_MISMATCH: ForgeErrorCode = 'RECORD_FAILED';

/**
 * The PGlite data directory: `<stateDir>/records`, where the state directory is `stateDir` (a
 * tool's `--state-dir`), else `$FORGE_STATE_DIR`, else `~/.local/state/forge-workflows`. Every
 * tool that opens the records locally goes through this, so they all find the same data.
 */
export function defaultDataDir(stateDir?: string): string {
  const state = stateDir || process.env.FORGE_STATE_DIR || join(process.env.HOME ?? homedir(), '.local', 'state', 'forge-workflows');
  return join(state, 'records');
}

/**
 * The migrations next to this file. In the esbuild bundle `import.meta.url` is the bundle, so a
 * `migrations/` directory copied next to it is found the same way; FORGE_RECORDS_MIGRATIONS
 * overrides both.
 */
export function defaultMigrationsDir(): string {
  return process.env.FORGE_RECORDS_MIGRATIONS || fileURLToPath(new URL('./migrations/', import.meta.url));
}

/**
 * Opens the records database and brings its schema up to date: `url` → that PostgreSQL server,
 * otherwise PGlite in `dataDir` (created if missing; the first open of a new directory runs
 * initdb and takes seconds). On any failure nothing is left open.
 */
export async function openDatabase(opts: OpenOptions = {}): Promise<Database> {
  const db = opts.url
    ? await openPostgres(opts.url, { max: opts.maxConnections ?? 10, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000 })
    : await openPGlite(resolve(opts.dataDir ?? defaultDataDir()));
  try {
    if (opts.migrate !== false) await migrate(db, { dir: opts.migrationsDir });
    return db;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

async function openPostgres(url: string, poolOptions: { max: number; connectionTimeoutMillis: number }): Promise<Database> {
  const { default: pg } = await import('pg');
  const location = redactUrl(url);
  const pool: Pool = new pg.Pool({ connectionString: url, ...poolOptions });
  // An idle connection the server drops emits 'error' on the pool; without a listener that
  // would crash the process. The next query fails with its own, clearer error.
  pool.on('error', () => undefined);
  const run = async <T>(q: Pool | PoolClient, sql: string, params?: unknown[]) => {
    try {
      return (await q.query(sql, params)) as unknown as { rows: T[] };
    } catch (e) {
      throw asForgeError(e, location);
    }
  };
  const queryable = (q: Pool | PoolClient): Queryable => ({
    query: <T>(sql: string, params?: unknown[]) => run<T>(q, sql, params),
    exec: async (sql: string) => void (await run(q, sql)),
  });
  let closed = false;
  return {
    kind: 'postgres',
    location,
    ...queryable(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw asForgeError(e, location);
      }
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw asForgeError(e, location);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it, don't reuse it.
        client.release(broken);
      }
    },
    async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw asForgeError(e, location);
      }
      try {
        // The lock lives as long as this session, so the connection is held until it is released.
        await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
      } catch (e) {
        client.release(e as Error);
        throw asForgeError(e, location);
      }
      let broken: Error | undefined;
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch((e: Error) => (broken = e));
        // A session whose unlock failed may still hold the lock: close it rather than reuse it.
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** PGlite data directories open in this process: opening one twice hangs, so it is refused. */
const openDataDirs = new Set<string>();

async function openPGlite(dataDir: string): Promise<Database> {
  if (openDataDirs.has(dataDir)) {
    throw new ForgeError(RECORDS_FAILED, `the records database ${dataDir} is already open in this process: close it first`);
  }
  openDataDirs.add(dataDir);
  let pglite;
  try {
    await mkdir(dataDir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create(dataDir);
  } catch (e) {
    openDataDirs.delete(dataDir);
    throw asForgeError(e, dataDir);
  }
  const db = pglite;
  const queryable = (q: Pick<typeof db, 'query' | 'exec'>): Queryable => ({
    async query<T>(sql: string, params?: unknown[]) {
      try {
        const result = await q.query<T>(sql, params);
        return { rows: result.rows };
      } catch (e) {
        throw asForgeError(e, dataDir);
      }
    },
    async exec(sql: string) {
      try {
        await q.exec(sql);
      } catch (e) {
        throw asForgeError(e, dataDir);
      }
    },
  });
  let closed = false;
  return {
    kind: 'pglite',
    location: dataDir,
    ...queryable(db),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      try {
        return await db.transaction((tx) => fn(queryable(tx)));
      } catch (e) {
        throw asForgeError(e, dataDir);
      }
    },
    // One process owns a PGlite directory, so a lock in this process is a lock on the database.
    withLock: withKeyedLock,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.close();
      } finally {
        openDataDirs.delete(dataDir);
      }
    },
  };
}

/** A driver error as a ForgeError that says which database and carries the SQLSTATE. */
function asForgeError(e: unknown, location: string): ForgeError {
  if (isForgeError(e)) return e;
  const err = e as { message?: string; code?: string; detail?: string; constraint?: string };
  const sqlState = typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code) ? err.code : undefined;
  const message = `records database ${location}: ${err.message ?? String(e)}`;
  const details = [
    ...(sqlState ? [{ field: 'sqlstate', message: sqlState }] : []),
    ...(err.constraint ? [{ field: 'constraint', message: err.constraint }] : []),
    ...(err.detail ? [{ message: err.detail }] : []),
  ];
  return new ForgeError(RECORDS_FAILED, message, details, { cause: e });
}

/** The SQLSTATE of a database error, if it is one (`23505` unique violation, …). */
export function sqlStateOf(e: unknown): string | undefined {
  const cause = isForgeError(e) ? (e.cause as { code?: unknown } | undefined) : (e as { code?: unknown } | undefined);
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

// ---------------------------------------------------------------------------------------------
// Migrations

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
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

/**
 * Applies the pending migrations, all in one transaction that first takes a transaction-level
 * advisory lock: two processes migrating one server at once serialize, and the second finds
 * nothing left to do. Before applying anything it checks that every migration the database has
 * applied is still there, unchanged (sha256): a database ahead of this code, or a migration file
 * edited after it was applied, is refused instead of silently drifting.
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
    const { rows: applied } = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const byVersion = new Map(migrations.map((m) => [m.version, m]));
    for (const row of applied) {
      const m = byVersion.get(row.version);
      if (!m) {
        throw new ForgeError(
          MIGRATION_MISMATCH,
          `the records database ${db.location} has migration ${row.version} (${row.name}) applied, which this version of forge does not have: ` +
            'it was migrated by a newer forge; use that version (or a newer one)',
        );
      }
      if (m.checksum !== row.checksum) {
        throw new ForgeError(
          MIGRATION_MISMATCH,
          `migration ${row.version} (${row.name}) was changed after it was applied to ${db.location}: ` +
            'restore the file and put the change in a new migration',
          [{ file: m.file, message: `sha256 ${m.checksum}, applied ${row.checksum}` }],
        );
      }
    }
    const done = new Set(applied.map((r) => r.version));
    const pending = migrations.filter((m) => !done.has(m.version));
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
