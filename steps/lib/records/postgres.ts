import type { Pool, PoolClient } from 'pg';
import { parseDatabaseUrl, redactDatabaseSecrets } from '../db-location.ts';
import type { Database, Queryable } from './db.ts';
import { asForgeError } from './driver-error.ts';

/** A PostgreSQL server through a `pg` pool. The URL is parsed strictly first and never printed. */
export async function openPostgres(url: string, poolOptions: { max: number; connectionTimeoutMillis: number }): Promise<Database> {
  const { location } = parseDatabaseUrl(url);
  const { default: pg } = await import('pg');
  // A driver message may quote what it was given: scrub the URL's secrets from every error.
  const fail = (e: unknown) => asForgeError(e, location, (text) => redactDatabaseSecrets(text, url));
  let pool: Pool;
  try {
    pool = new pg.Pool({ connectionString: url, ...poolOptions });
  } catch (e) {
    throw fail(e);
  }
  // An idle connection the server drops emits 'error' on the pool; without a listener that
  // would crash the process. The next query fails with its own, clearer error.
  pool.on('error', () => undefined);
  const run = async <T>(q: Pool | PoolClient, sql: string, params?: unknown[]) => {
    try {
      return (await q.query(sql, params)) as unknown as { rows: T[] };
    } catch (e) {
      throw fail(e);
    }
  };
  const queryable = (q: Pool | PoolClient): Queryable => ({
    query: <T>(sql: string, params?: unknown[]) => run<T>(q, sql, params),
    exec: async (sql: string) => void (await run(q, sql)),
  });
  const connect = async () => {
    try {
      return await pool.connect();
    } catch (e) {
      throw fail(e);
    }
  };
  let closed = false;
  return {
    kind: 'postgres',
    location,
    ...queryable(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw fail(e);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it, don't reuse it.
        client.release(broken);
      }
    },
    async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const client = await connect();
      try {
        // The lock lives as long as this session, so the connection is held until it is released.
        await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
      } catch (e) {
        client.release(e as Error);
        throw fail(e);
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
