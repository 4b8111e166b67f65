import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForSuite } from '../../../test/helpers/postgres-suite.ts';
import { openAsRuntimeRole } from '../../../test/helpers/records.ts';
import { ForgeError } from '../errors.ts';
import { openDatabase, type Database } from './db.ts';
import { ReleaseRecords, type ReleaseInput } from './releases.ts';

// Release records on PGlite and on a real PostgreSQL server: idempotent per commit, numbered
// without gaps under concurrency, aliases, lookup order, immutability.
const sha = (n: number) => n.toString(16).padStart(40, '0');
const release = (n: number, over: Partial<ReleaseInput> = {}): ReleaseInput => ({ repository: 'acme/monorepo', project: 'api', commit: sha(n), trigger: 'branch', branch: 'main', ...over });

describe('release records (PGlite)', () => {
  let dir: string;
  let db: Database;
  let records: ReleaseRecords;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-releases-'));
    db = await openDatabase({ dataDir: join(dir, 'data') });
    records = new ReleaseRecords(db);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('numbers each project from 1, with its branch alias; the same commit again is the same release', async () => {
    const first = await records.recordRelease(release(1));
    expect(first).toMatchObject({ number: 1, created: true, aliases: { numeric: '1', branch: 'main-1' } });
    const second = await records.recordRelease(release(2, { trigger: 'tag', tag: 'api/v1.2.0', branch: undefined }));
    expect(second).toMatchObject({ number: 2, aliases: { numeric: '2', tag: 'api/v1.2.0' } });
    expect(second.aliases.branch).toBeUndefined();
    expect(await records.recordRelease(release(3))).toMatchObject({ number: 3, aliases: { branch: 'main-2' } });
    expect(await records.recordRelease(release(4, { branch: 'release/1.x' }))).toMatchObject({ number: 4, aliases: { branch: 'release/1.x-1' } });
    // Another project counts on its own.
    expect(await records.recordRelease(release(1, { project: 'web' }))).toMatchObject({ number: 1, created: true });
    // A rerun of a release: the first record, nothing new.
    const again = await records.recordRelease(release(1, { trigger: 'manual' }));
    expect(again).toMatchObject({ id: first.id, number: 1, trigger: 'branch', created: false });
  });

  it('publishes a new release inside its transaction: a failed publish records nothing and keeps the number free', async () => {
    const project = 'publisher';
    await expect(records.recordRelease(release(1, { project }), async (r) => {
      expect(r.number).toBe(1);
      throw new Error('registry down');
    })).rejects.toThrow('registry down');
    expect(await records.lookup('acme/monorepo', project, '1')).toBeUndefined();
    const seen: number[] = [];
    const ok = await records.recordRelease(release(1, { project }), async (r) => void seen.push(r.number));
    expect(ok).toMatchObject({ number: 1, created: true });
    // A rerun finds the release and publishes nothing again.
    await records.recordRelease(release(1, { project }), async (r) => void seen.push(r.number));
    expect(seen).toEqual([1]);
  });

  it('looks a release up by alias, then number, then SHA prefix', async () => {
    expect((await records.lookup('acme/monorepo', 'api', 'api/v1.2.0'))?.number).toBe(2);
    expect((await records.lookup('acme/monorepo', 'api', 'main-2'))?.number).toBe(3);
    expect((await records.lookup('acme/monorepo', 'api', 'release/1.x-1'))?.number).toBe(4);
    expect((await records.lookup('acme/monorepo', 'api', '3'))?.commit).toBe(sha(3));
    expect((await records.lookup('acme/monorepo', 'api', sha(4).slice(0, 40)))?.number).toBe(4);
    expect(await records.lookup('acme/monorepo', 'api', '99')).toBeUndefined();
    expect(await records.lookup('acme/monorepo', 'api', 'main-9')).toBeUndefined();
    expect(await records.lookup('acme/monorepo', 'api', 'abc')).toBeUndefined(); // too short for a SHA prefix
    // Every release's SHA here starts with 0000000: a prefix that fits several is refused, naming them.
    await expect(records.lookup('acme/monorepo', 'api', '0000000')).rejects.toThrow(/0000000 is the start of more than one release of acme\/monorepo\/api \(1: 0{39}1, 2: 0{39}2\): give more of the SHA/);
  });

  it('refuses a tag that names another release, and bad input, naming the field', async () => {
    const e = await records.recordRelease(release(9, { trigger: 'tag', tag: 'api/v1.2.0' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForgeError);
    expect((e as Error).message).toBe('tag api/v1.2.0 already names another release of acme/monorepo/api');
    const bad = (await records.recordRelease(release(10, { commit: 'HEAD', project: 'Api' })).catch((x: unknown) => x)) as ForgeError;
    expect(bad.details.map((d) => d.field).sort()).toEqual(['commit', 'project']);
    // Nothing was recorded for either, and no number was used up.
    expect(await records.recordRelease(release(11))).toMatchObject({ number: 5 });
  });

  it('a recorded release cannot be changed or removed', async () => {
    await expect(db.query("UPDATE releases SET number = 42 WHERE project = 'api'")).rejects.toThrow(/releases is append-only: UPDATE is not allowed/);
    await expect(db.query("DELETE FROM releases WHERE project = 'api'")).rejects.toThrow(/releases is append-only: DELETE is not allowed/);
  });
});

describe('release records (PostgreSQL server)', () => {
  const postgres = postgresForSuite();

  it('20 releases of one project at once, from 20 connections: numbers 1–20, none twice, none skipped', async () => {
    const url = await postgres().createDatabase('release_race');
    await (await openDatabase({ url, schema: 'migrate' })).close();
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url, schema: 'check', maxConnections: 5 })));
    try {
      const made = await Promise.all(Array.from({ length: 20 }, (_, i) => new ReleaseRecords(dbs[i % 4]!).recordRelease(release(100 + i))));
      expect(made.map((r) => r.number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(made.map((r) => r.aliases.branch).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `main-${i + 1}`).sort());
      // The same 20 again, at once: the same releases.
      const again = await Promise.all(made.map((r, i) => new ReleaseRecords(dbs[i % 4]!).recordRelease(release(100 + i))));
      expect(again.map((r) => [r.id, r.number, r.created])).toEqual(made.map((r) => [r.id, r.number, false]));
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  }, 120_000);

  it('the runtime role may record and read releases, and nothing more', async () => {
    const step = await openAsRuntimeRole(postgres(), 'release_roles');
    try {
      const records = new ReleaseRecords(step);
      expect(await records.recordRelease(release(1))).toMatchObject({ number: 1, created: true });
      expect((await records.lookup('acme/monorepo', 'api', 'main-1'))?.commit).toBe(sha(1));
      await expect(step.query('UPDATE releases SET number = 7')).rejects.toThrow(/permission denied for table releases/);
      await expect(step.query("INSERT INTO releases (id, repository, project, commit_sha, number, trigger) VALUES (gen_random_uuid(), 'a', 'b', $1, 9, 'manual')", [sha(2)])).rejects.toThrow(/permission denied for table releases/);
    } finally {
      await step.close();
    }
  }, 120_000);
});
