import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ForgeError } from '../errors.ts';
import { acquireFileLock, type FileLock } from '../file-lock.ts';
import { withKeyedLock } from '../keyed-lock.ts';
import type { Database, Queryable } from './db.ts';
import { asForgeError, RECORDS_FAILED } from './driver-error.ts';

/**
 * PGlite: an embedded PostgreSQL in a local directory, the default for local runs. It is one
 * process's database: two processes opening one data directory would each run their own
 * PostgreSQL over the same files and lose or corrupt rows. So a process holds an exclusive lock
 * file (`<dataDir>.lock`) from open to close; another process waits for it (up to `lockTimeoutMs`,
 * then an error naming the holder's PID), and the lock of a process that died is taken over.
 */

/** PGlite data directories open in this process: opening one twice hangs, so it is refused. */
const openDataDirs = new Set<string>();

/** Default wait for another process's lock: FORGE_RECORDS_LOCK_TIMEOUT (seconds), else 120 s. */
export function defaultLockTimeoutMs(): number {
  const seconds = Number(process.env.FORGE_RECORDS_LOCK_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 120_000;
}

export async function openPGlite(dataDir: string, lockTimeoutMs = defaultLockTimeoutMs()): Promise<Database> {
  if (openDataDirs.has(dataDir)) {
    throw new ForgeError(RECORDS_FAILED, `the records database ${dataDir} is already open in this process: close it first`);
  }
  openDataDirs.add(dataDir);
  let lock: FileLock | undefined;
  let pglite;
  try {
    await mkdir(dirname(dataDir), { recursive: true });
    lock = await acquireFileLock(`${dataDir}.lock`, { timeoutMs: lockTimeoutMs, what: `the records database ${dataDir}`, code: RECORDS_FAILED });
    await mkdir(dataDir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create(dataDir);
  } catch (e) {
    await lock?.release();
    openDataDirs.delete(dataDir);
    throw asForgeError(e, dataDir);
  }
  const db = pglite;
  const held = lock;
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
    // One process at a time owns a PGlite directory (the lock file), so a lock in this process
    // is a lock on the database.
    withLock: withKeyedLock,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.close();
      } finally {
        openDataDirs.delete(dataDir);
        await held.release();
      }
    },
  };
}
