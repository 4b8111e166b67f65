import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresServer } from './postgres.ts';

/**
 * A real PostgreSQL server for the tests of one `describe` block: started before them, stopped
 * after. Returns its getter (the server exists once the block's `beforeAll` ran).
 */
export function postgresForSuite(): () => PostgresServer {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the PostgreSQL server of this suite is not started (use it inside a test)');
    return server;
  };
}
