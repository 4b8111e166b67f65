import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../lib/records/db.ts';
import { forge } from './forge-process.ts';

/**
 * PGlite is one process's database. Several `forge record` processes sharing one state
 * directory (a laptop running promotions side by side) take turns through the lock file, and
 * every row each of them wrote is there afterwards.
 */

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const TRUSTED = 'registry.example.test:5000/trusted/app';

describe('PGlite shared by several processes', () => {
  let state: string;
  beforeAll(async () => {
    state = await mkdtemp(join(tmpdir(), 'forge-pglite-lock-'));
  });
  afterAll(async () => {
    await rm(state, { recursive: true, force: true });
  });

  it('six processes write at once into a new data directory: all rows present, none lost', async () => {
    const promotions = ['1', '2', '3'].map((c) => ['record', '--trusted-reference', `${TRUSTED}@${digest(c)}`, '--source-reference', `in.example.test/app:${c}`]);
    const refusals = ['4', '5', '6'].map((c) => ['record', '--outcome', 'refused', '--check', 'signature', '--message', `refusal ${c}`, '--source-reference', `in.example.test/app@${digest(c)}`]);
    const started = Date.now();
    const runs = await Promise.all([...promotions, ...refusals].map((args) => forge([...args, '--output', 'json'], { FORGE_STATE_DIR: state })));
    console.info(`6 concurrent forge record processes on one new PGlite directory: ${Date.now() - started} ms`);
    for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
    expect(new Set(runs.map((r) => JSON.parse(r.stdout).eventId)).size).toBe(6);

    const db = await openDatabase({ dataDir: join(state, 'records') });
    try {
      const { rows: allowlist } = await db.query<{ digest: string }>('SELECT digest FROM promotions ORDER BY digest');
      expect(allowlist.map((r) => r.digest)).toEqual(['1', '2', '3'].map(digest));
      const { rows: events } = await db.query<{ outcome: string; n: number }>('SELECT outcome, count(*)::int AS n FROM promotion_events GROUP BY outcome ORDER BY outcome');
      expect(events).toEqual([
        { outcome: 'promoted', n: 3 },
        { outcome: 'refused', n: 3 },
      ]);
    } finally {
      await db.close();
    }
  }, 300_000); // six node + tsx start-ups, one PGlite initdb, six opens in turn on a shared 2-core machine

  it('a process that cannot get the lock in time names the holder', async () => {
    const db = await openDatabase({ dataDir: join(state, 'records') }); // this test process holds it
    try {
      const r = await forge(['record', '--outcome', 'failed', '--message', 'x', '--source-reference', 'in.example.test/app:1'], { FORGE_STATE_DIR: state, FORGE_RECORDS_LOCK_TIMEOUT: '1' });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`error: RECORD_FAILED: the records database ${join(state, 'records')} is in use by process ${process.pid} (since `);
      expect(r.stderr).toContain(`) and was not released within 1 s: wait for that process to finish or stop it (a lock whose process has exited is taken over automatically; lock file ${join(state, 'records')}.lock)`);
    } finally {
      await db.close();
    }
  }, 120_000);
});
