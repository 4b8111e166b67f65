import { appendFile, cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../../test/helpers/postgres.ts';
import { ForgeError } from '../errors.ts';
import { defaultMigrationsDir, loadMigrations, migrate, openDatabase, type Database } from './db.ts';
import { PromotionRecords, type PromotionInput } from './records.ts';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const TRUSTED = 'registry.example.test:5000/trusted/app';

function promotion(overrides: Partial<PromotionInput> = {}): PromotionInput {
  return {
    trustedRepository: TRUSTED,
    digest: digest('a'),
    sourceReference: 'incoming.example.test/app:1.2.3',
    signer: { identity: 'https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' },
    scanSummary: { scanner: 'trivy', critical: 0, high: 0, medium: 2 },
    policyResults: [{ check: 'non-root', passed: true, required: 'a non-root user', actual: 'USER 1000' }],
    attestationDigest: digest('b'),
    workflowName: 'forge-verify-and-promote-x7k2p',
    workflowUid: '6f1c1c4e-1111-4c2e-9d1e-2b0c4f6a7e11',
    ...overrides,
  };
}

/** Rejection of `p` as a ForgeError (fails the test if it resolves or throws something else). */
async function forgeError(p: Promise<unknown>): Promise<ForgeError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForgeError);
  return e as ForgeError;
}

describe('records on PGlite (embedded)', () => {
  let dir: string;
  let dataDir: string;
  let migrationsDir: string;
  let db: Database | undefined;
  let records: PromotionRecords;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-records-'));
    dataDir = join(dir, 'data');
    migrationsDir = join(dir, 'migrations');
    await cp(defaultMigrationsDir(), migrationsDir, { recursive: true });
    const started = Date.now();
    db = await openDatabase({ dataDir, migrationsDir });
    console.info(`PGlite first open of a new data directory (initdb + migrations): ${Date.now() - started} ms`);
    records = new PromotionRecords(db);
  }, 120_000); // initdb of a new PGlite directory: ~3-10 s idle, over 20 s on a loaded 2-core machine

  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('applied every migration on open, and migrating again is a no-op', async () => {
    const files = await loadMigrations(migrationsDir);
    expect(files.map((m) => `${m.version}_${m.name}`)).toEqual(['1_promotions', '2_append_only_events', '3_executions', '4_execution_rounds', '5_releases', '6_approvals', '7_deployments']);
    const again = await migrate(db!, { dir: migrationsDir });
    expect(again).toEqual({ applied: [], version: 7 });
    const { rows } = await db!.query<{ version: number; name: string; checksum: string; applied_at: Date }>('SELECT * FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => [r.version, r.name, r.checksum])).toEqual(files.map((m) => [m.version, m.name, m.checksum]));
    expect(rows[0]!.applied_at).toBeInstanceOf(Date);
  });

  it('records a promotion, and a second record of the digest returns the same id', async () => {
    const first = await records.recordPromotion(promotion());
    expect(first.created).toBe(true);
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const second = await records.recordPromotion(promotion({ attestationDigest: digest('c'), workflowName: 'rerun' }));
    expect(second).toMatchObject({ id: first.id, created: false });

    const found = await records.findPromotion(TRUSTED, digest('a'));
    expect(found).toMatchObject({
      id: first.id,
      trustedRepository: TRUSTED,
      digest: digest('a'),
      sourceReference: 'incoming.example.test/app:1.2.3',
      signer: promotion().signer,
      scanSummary: { scanner: 'trivy', critical: 0, high: 0, medium: 2 },
      policyResults: promotion().policyResults,
      // The first record wins: a repeat does not overwrite it.
      attestationDigest: digest('b'),
      workflowName: 'forge-verify-and-promote-x7k2p',
    });
    expect(Date.parse(found!.promotedAt)).toBeGreaterThan(Date.now() - 60_000);

    const events = await records.listEvents({ digest: digest('a'), limit: 10 });
    expect(events.map((e) => [e.outcome, e.promotionId])).toEqual([
      ['already-promoted', first.id],
      ['promoted', first.id],
    ]);
    expect(events[0]!.details).toMatchObject({ attestationDigest: digest('c') });
    expect(events[0]!.workflowName).toBe('rerun');
    // Every promotion of the digest, oldest first (a release finds its image's trusted location so).
    await records.recordPromotion(promotion({ trustedRepository: `${TRUSTED}-mirror` }));
    expect((await records.promotionsOf(digest('a'))).map((p) => p.trustedRepository)).toEqual([TRUSTED, `${TRUSTED}-mirror`]);
    expect(await records.promotionsOf(digest('e'))).toEqual([]);
    await expect(records.promotionsOf('sha256:short')).rejects.toThrow(/lookup/);
    expect(Number(events[0]!.id)).toBeGreaterThan(Number(events[1]!.id));

    // Same digest in another trusted repository: a separate allowlist entry.
    const other = await records.recordPromotion(promotion({ trustedRepository: 'registry.example.test:5000/trusted/other' }));
    expect(other.created).toBe(true);
    expect(other.id).not.toBe(first.id);
  });

  it('appends refused and failed events without touching the allowlist', async () => {
    const refused = await records.recordRefusal({
      sourceReference: `incoming.example.test/app@${digest('d')}`,
      digest: digest('d'),
      check: 'vulnerabilities',
      message: '2 CRITICAL vulnerabilities (CVE-2024-0001, CVE-2024-0002)',
      details: { critical: 2, ids: ['CVE-2024-0001', 'CVE-2024-0002'] },
      workflowName: 'wf-2',
    });
    const failed = await records.recordRefusal({ outcome: 'failed', sourceReference: 'incoming.example.test/app:broken', message: 'registry unreachable' });
    expect(Number(failed.eventId)).toBeGreaterThan(Number(refused.eventId));

    const [event] = await records.listEvents({ digest: digest('d'), limit: 5 });
    expect(event).toMatchObject({
      id: refused.eventId,
      outcome: 'refused',
      checkName: 'vulnerabilities',
      digest: digest('d'),
      trustedRepository: null,
      promotionId: null,
      details: { critical: 2, ids: ['CVE-2024-0001', 'CVE-2024-0002'] },
    });
    const latest = await records.listEvents({ limit: 2 });
    expect(latest.map((e) => e.outcome)).toEqual(['failed', 'refused']);
    expect(latest[0]!.digest).toBeNull();
    expect(await records.findPromotion(TRUSTED, digest('d'))).toBeUndefined();
  });

  it('answers isAllowed for pinned references only', async () => {
    expect(await records.isAllowed(`${TRUSTED}@${digest('a')}`)).toBe(true);
    expect(await records.isAllowed(`${TRUSTED}:1.2.3@${digest('a')}`)).toBe(true); // the tag is ignored
    expect(await records.isAllowed(`${TRUSTED}@${digest('d')}`)).toBe(false); // refused, never promoted
    expect(await records.isAllowed(`incoming.example.test/app@${digest('a')}`)).toBe(false); // not the trusted repository
    const e = await forgeError(records.isAllowed(`${TRUSTED}:latest`));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toMatch(/is not pinned: expected REPOSITORY@sha256:<64 hex>/);
  });

  it('refuses a digest that is not sha256:<64 hex>, and writes nothing', async () => {
    const before = (await records.listEvents({ limit: 1000 })).length;
    for (const bad of ['sha256:abc', `sha512:${'a'.repeat(64)}`, `sha256:${'A'.repeat(64)}`, 'a'.repeat(64)]) {
      const e = await forgeError(records.recordPromotion(promotion({ digest: bad })));
      expect(e.code).toBe('INVALID_ARGS');
      expect(e.message).toContain(`digest must be sha256:<64 lowercase hex characters>, got ${JSON.stringify(bad)}`);
      expect(e.details[0]).toMatchObject({ field: 'digest' });
    }
    const e = await forgeError(records.recordPromotion(promotion({ trustedRepository: `${TRUSTED}:v1` })));
    expect(e.message).toMatch(/trustedRepository: repository must not contain a tag/);
    expect(await forgeError(records.recordRefusal({ sourceReference: 'x', message: 'm', digest: 'sha256:nope' }))).toMatchObject({ code: 'INVALID_ARGS' });
    expect(await forgeError(records.isAllowed(`${TRUSTED}@sha256:${'a'.repeat(63)}`))).toMatchObject({ code: 'INVALID_ARGS' });
    expect((await records.listEvents({ limit: 1000 })).length).toBe(before);
  });

  it('keeps the audit trail append-only and the digest format enforced by the database itself', async () => {
    const update = await forgeError(db!.query(`UPDATE promotion_events SET message = 'edited'`));
    expect(update.message).toMatch(/append-only audit trail: UPDATE is not allowed/);
    expect(await forgeError(db!.query('DELETE FROM promotion_events'))).toMatchObject({ message: expect.stringMatching(/DELETE is not allowed/) });
    expect(await forgeError(db!.query('TRUNCATE promotion_events'))).toMatchObject({ message: expect.stringMatching(/TRUNCATE is not allowed/) });
    const check = await forgeError(
      db!.query(`INSERT INTO promotions (trusted_repository, digest, source_reference) VALUES ('r/x', 'sha256:short', 's')`),
    );
    expect(check.message).toMatch(/promotions_digest_format/);
  });

  it('refuses to open when an applied migration file changed or is missing, and opens again once restored', async () => {
    await db!.close();
    db = undefined;
    const file = join(migrationsDir, '001_promotions.sql');
    const original = await readFile(file);

    await appendFile(file, '\n-- an innocent-looking edit\n');
    const changed = await forgeError(openDatabase({ dataDir, migrationsDir }));
    expect(changed.code).toBe('RECORD_FAILED');
    expect(changed.message).toMatch(/migration 1 \(promotions\) was changed after it was applied to .*: restore the file and put the change in a new migration/);
    expect(changed.details[0]!.file).toBe(file);
    await writeFile(file, original);

    await rename(join(migrationsDir, '002_append_only_events.sql'), join(dir, '002.moved'));
    const missing = await forgeError(openDatabase({ dataDir, migrationsDir }));
    expect(missing.message).toMatch(/has migration 2 \(append_only_events\) applied, which this version of forge does not have/);
    await rename(join(dir, '002.moved'), join(migrationsDir, '002_append_only_events.sql'));

    // A failed open closed PGlite: opening the directory again works (and does not hang).
    db = await openDatabase({ dataDir, migrationsDir });
    records = new PromotionRecords(db);
    expect(await records.isAllowed(`${TRUSTED}@${digest('a')}`)).toBe(true);
  }, 120_000); // three opens of the directory

  it('rolls a failing migration back completely', async () => {
    await writeFile(join(migrationsDir, '008_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
    try {
      const e = await forgeError(migrate(db!, { dir: migrationsDir }));
      expect(e.message).toMatch(/migration 8 \(broken\) failed, nothing was applied: .*no_such_function/);
      expect(e.details[0]!.file).toBe(join(migrationsDir, '008_broken.sql'));
      const { rows } = await db!.query<{ n: string }>(`SELECT count(*)::text AS n FROM schema_migrations`);
      expect(rows[0]!.n).toBe('7');
      const table = await db!.query(`SELECT 1 FROM pg_tables WHERE tablename = 'half_done'`);
      expect(table.rows).toHaveLength(0);
    } finally {
      await rm(join(migrationsDir, '008_broken.sql'));
    }
  });

  it('takes turns under exclusive() within the process', async () => {
    const records = new PromotionRecords(db!);
    const order: string[] = [];
    const hold = (who: string, ms: number) =>
      records.exclusive(`${TRUSTED}@${digest('a')}`, async () => {
        order.push(`${who}+`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`${who}-`);
      });
    await Promise.all([hold('first', 100), hold('second', 10), hold('third', 10)]);
    expect(order).toEqual(['first+', 'first-', 'second+', 'second-', 'third+', 'third-']);
    // a failing holder releases the lock too
    await expect(records.exclusive('x', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await records.exclusive('x', async () => order.push('after'));
    expect(order.at(-1)).toBe('after');
  });

  it('refuses a second open of a data directory that is already open in this process', async () => {
    const e = await forgeError(openDatabase({ dataDir, migrationsDir }));
    expect(e.message).toMatch(/is already open in this process/);
  });
});

describe('records on a PostgreSQL server', () => {
  let server: PostgresServer | undefined;
  const open: Database[] = [];
  const track = (db: Database) => (open.push(db), db);

  beforeAll(async () => {
    const started = Date.now();
    server = await startPostgres();
    console.info(`PostgreSQL server (initdb + start): ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await Promise.all(open.map((db) => db.close().catch(() => undefined)));
    await server?.stop();
  });

  it('applies each migration once when two processes migrate at the same time', async () => {
    const url = await server!.createDatabase('migrate_race');
    const [a, b] = await Promise.all([openDatabase({ url, schema: 'migrate' }), openDatabase({ url, schema: 'migrate' })]).then((dbs) => dbs.map(track));
    expect(a!.kind).toBe('postgres');
    expect(a!.location).toBe(url.replace('forge@', '')); // credentials never shown (user included)
    const { rows } = await b!.query<{ version: number; n: string }>('SELECT version, count(*) OVER ()::text AS n FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await migrate(a!)).toEqual({ applied: [], version: 7 });
  });

  it('20 concurrent promotions of one digest from two pools: one row, one id for every caller', async () => {
    const url = await server!.createDatabase('promote_race');
    const pools = [track(await openDatabase({ url, maxConnections: 10, schema: 'migrate' })), track(await openDatabase({ url, maxConnections: 10, schema: 'migrate' }))];
    const clients = pools.map((db) => new PromotionRecords(db));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => clients[i % 2]!.recordPromotion(promotion({ digest: digest('e'), workflowName: `wf-${i}` }))),
    );
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);

    const count = await pools[0]!.query<{ n: string }>('SELECT count(*)::text AS n FROM promotions WHERE digest = $1', [digest('e')]);
    expect(count.rows[0]!.n).toBe('1');
    const events = await clients[1]!.listEvents({ digest: digest('e'), limit: 100 });
    expect(events).toHaveLength(20);
    expect(events.filter((e) => e.outcome === 'promoted')).toHaveLength(1);
    expect(events.filter((e) => e.outcome === 'already-promoted')).toHaveLength(19);
    expect(new Set(events.map((e) => e.promotionId))).toEqual(ids);
    expect(await clients[0]!.isAllowed(`${TRUSTED}@${digest('e')}`)).toBe(true);
  });

  it('takes turns under exclusive() across pools (an advisory lock per image), other images do not wait', async () => {
    const url = await server!.createDatabase('exclusive');
    const pools = [track(await openDatabase({ url, schema: 'migrate' })), track(await openDatabase({ url, schema: 'migrate' }))].map((db) => new PromotionRecords(db));
    const spans: { who: string; from: number; to: number }[] = [];
    const hold = (records: PromotionRecords, reference: string, who: string) =>
      records.exclusive(reference, async () => {
        const from = performance.now();
        await new Promise((r) => setTimeout(r, 300));
        spans.push({ who, from, to: performance.now() });
      });
    await Promise.all([hold(pools[0]!, `${TRUSTED}@${digest('a')}`, 'a1'), hold(pools[1]!, `${TRUSTED}@${digest('a')}`, 'a2'), hold(pools[1]!, `${TRUSTED}@${digest('b')}`, 'b')]);
    const [first, second] = spans.filter((x) => x.who.startsWith('a')).sort((x, y) => x.from - y.from);
    expect(second!.from).toBeGreaterThanOrEqual(first!.to); // the same image: one after the other
    expect(spans.find((x) => x.who === 'b')!.from).toBeLessThan(first!.to); // another image: did not wait
    // the lock is released: taking it again does not wait
    await hold(pools[0]!, `${TRUSTED}@${digest('a')}`, 'a3');
  });

  it('returns the same shapes as PGlite (ids as strings, jsonb parsed, ISO timestamps)', async () => {
    const url = await server!.createDatabase('shapes');
    const db = track(await openDatabase({ url, schema: 'migrate' }));
    const records = new PromotionRecords(db);
    const { id } = await records.recordPromotion(promotion({ digest: digest('f') }));
    await records.recordRefusal({ sourceReference: 'incoming.example.test/app:2', check: 'signature', message: 'no signature', digest: digest('1') });
    expect(await records.findPromotion(TRUSTED, digest('f'))).toEqual({
      id,
      trustedRepository: TRUSTED,
      digest: digest('f'),
      sourceReference: 'incoming.example.test/app:1.2.3',
      signer: promotion().signer,
      scanSummary: promotion().scanSummary,
      policyResults: promotion().policyResults,
      attestationDigest: digest('b'),
      workflowName: 'forge-verify-and-promote-x7k2p',
      workflowUid: '6f1c1c4e-1111-4c2e-9d1e-2b0c4f6a7e11',
      promotedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const events = await records.listEvents({ limit: 10 });
    expect(events.map((e) => [typeof e.id, e.outcome, e.checkName])).toEqual([
      ['string', 'refused', 'signature'],
      ['string', 'promoted', null],
    ]);
    expect(await forgeError(db.query('DELETE FROM promotion_events'))).toMatchObject({ message: expect.stringMatching(/append-only/) });
  });

  it('names the server (without its password) when it cannot be reached', async () => {
    const url = server!.url.replace('forge@', 'forge:s3cret@').replace(/:\d+\//, ':1/');
    const e = await forgeError(openDatabase({ url }));
    expect(e.code).toBe('RECORD_FAILED');
    expect(e.message).toMatch(/^records database postgresql:\/\/127\.0\.0\.1:1\/postgres: connect ECONNREFUSED/);
    expect(e.format()).not.toContain('s3cret');
  });
});
