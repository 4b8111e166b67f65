import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkSchema, migrate } from './migrations.ts';
import { openPGlite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

/**
 * The records database: PostgreSQL through `pg` (a server, what a cluster runs) or PGlite (an
 * embedded PostgreSQL in a local directory, the default for local runs). Both sit behind one small
 * interface, and the same SQL runs on both.
 *
 * Who changes the schema: on a server, only its owner, through `forge records migrate`; the steps
 * connect as a runtime role that may only read and append, and check the schema version on open.
 * PGlite has one user and one process at a time, so it migrates itself on open.
 */

export { asForgeError, RECORDS_FAILED, sqlStateOf } from './driver-error.ts';
export { defaultMigrationsDir, loadMigrations, migrate, checkSchema, type Migration, type MigrationResult } from './migrations.ts';

/** Something SQL can be sent to: the database itself, or one transaction of it. */
export interface Queryable {
  /** One statement, `$1`-style parameters. jsonb comes back parsed, timestamptz as Date. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** A script of several statements, without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Where the data is, safe to log and print: `postgresql://HOST:PORT/DATABASE` (steps/lib/db-location.ts), or a directory. */
  readonly location: string;
  /** Runs `fn` in one transaction (READ COMMITTED): committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the lock named `key`: with a server, a session advisory lock, so
   * every process using that server takes turns; with PGlite (one process at a time), an
   * in-process lock.
   */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Always await this: a PGlite data directory left open makes the next open of it hang, and keeps its lock. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** `postgresql://user:password@host:port/db`: use that server through a `pg` pool. */
  url?: string;
  /** Without `url`: the PGlite data directory (default {@link defaultDataDir}). */
  dataDir?: string;
  /** Where the `NNN_name.sql` migrations are (default: migrations/ beside this module). */
  migrationsDir?: string;
  /**
   * What to do about the schema on open: `migrate` (apply pending migrations; the default for
   * PGlite, and what `forge records migrate` does as the owner), `check` (refuse a database whose
   * schema is missing or older, naming `forge records migrate`; the default for a server) or
   * `none`.
   */
  schema?: 'migrate' | 'check' | 'none';
  /** Connections in the `pg` pool (default 10). */
  maxConnections?: number;
  /** How long to wait for a `pg` connection (default 10 s; an unreachable server must not hang a step). */
  connectTimeoutMs?: number;
  /** PGlite: how long to wait for another process's lock on the data directory (default FORGE_RECORDS_LOCK_TIMEOUT s, else 120 s). */
  lockTimeoutMs?: number;
}

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
 * Opens the records database: `url` → that PostgreSQL server, otherwise PGlite in `dataDir`
 * (created if missing; the first open of a new directory runs initdb and takes seconds), then
 * migrates or checks the schema (see {@link OpenOptions.schema}). On any failure nothing is left
 * open.
 */
export async function openDatabase(opts: OpenOptions = {}): Promise<Database> {
  const db = opts.url
    ? await openPostgres(opts.url, { max: opts.maxConnections ?? 10, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000 })
    : await openPGlite(resolve(opts.dataDir ?? defaultDataDir()), opts.lockTimeoutMs);
  try {
    const schema = opts.schema ?? (db.kind === 'pglite' ? 'migrate' : 'check');
    if (schema === 'migrate') await migrate(db, { dir: opts.migrationsDir });
    if (schema === 'check') await checkSchema(db, { dir: opts.migrationsDir });
    return db;
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}
