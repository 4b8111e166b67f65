import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '../../steps/lib/records/db.ts';
import { grantRuntimeRole } from '../../steps/lib/records/roles.ts';
import type { PostgresServer } from './postgres.ts';

/**
 * A records database on `server` as a cluster has it: owned by `<name>_owner`, migrated by it,
 * and opened as the runtime role `<name>_step` the steps use (schema checked, not migrated).
 */
export async function openAsRuntimeRole(server: PostgresServer, name: string): Promise<Database> {
  await server.query(`CREATE ROLE ${name}_owner LOGIN`);
  await server.query(`CREATE ROLE ${name}_step LOGIN`);
  const url = new URL(await server.createDatabase(name, `${name}_owner`));
  const as = (user: string) => Object.assign(new URL(url), { username: user, password: '' }).toString();
  const owner = await openDatabase({ url: as(`${name}_owner`), schema: 'migrate' });
  try {
    await grantRuntimeRole(owner, `${name}_step`);
  } finally {
    await owner.close();
  }
  return openDatabase({ url: as(`${name}_step`), schema: 'check' });
}

/** An embedded (PGlite) records database in a temporary directory, migrated; `cleanup` closes and removes it. */
export async function tempRecordsDatabase(prefix: string): Promise<{ db: Database; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const db = await openDatabase({ dataDir: join(dir, 'db') });
  return {
    db,
    async cleanup() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
