import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../test/helpers/forge-error.ts';
import type { Database } from './db.ts';
import { PromotionRecords, type PromotionInput } from './records.ts';
import { tempRecordsDatabase } from '../../../test/helpers/records.ts';

/**
 * The records store's messages and its one defensive branch, on PGlite (records.test.ts covers
 * recording, duplicates and concurrency on PGlite and on a PostgreSQL server).
 */

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const TRUSTED = 'registry.example.test:5000/trusted/edges';

let temp: Awaited<ReturnType<typeof tempRecordsDatabase>> | undefined;
let db: Database | undefined;
let records: PromotionRecords;

beforeAll(async () => {
  temp = await tempRecordsDatabase('forge-records-edges');
  db = temp.db;
  records = new PromotionRecords(db);
}, 120_000);
afterAll(async () => {
  await temp?.cleanup();
});

const promotion = (over: Partial<PromotionInput> = {}): PromotionInput => ({
  trustedRepository: TRUSTED,
  digest: digest('a'),
  sourceReference: 'incoming.example.test/team/edges:1',
  signer: { key: 'developers' },
  scanSummary: { high: 0 },
  attestationDigest: digest('b'),
  ...over,
});

describe('what each call refuses, named by the call', () => {
  it.each<[string, () => Promise<unknown>, RegExp]>([
    ['recordPromotion', () => records.recordPromotion({} as PromotionInput), /^invalid promotion record: trustedRepository: /],
    ['recordRefusal', () => records.recordRefusal({ sourceReference: 's' } as never), /^invalid refusal record: message: /],
    ['findPromotion', () => records.findPromotion(TRUSTED, 'sha256:x'), /^invalid lookup: digest: digest must be sha256/],
    ['listEvents with limit 0', () => records.listEvents({ limit: 0 }), /^invalid event query: limit: /],
    ['listEvents with limit 10001', () => records.listEvents({ limit: 10_001 }), /^invalid event query: limit: /],
    ['listEvents with limit 1.5', () => records.listEvents({ limit: 1.5 }), /^invalid event query: limit: /],
    ['listEvents by a bad digest', () => records.listEvents({ digest: 'sha256:x' }), /^invalid event query: digest: /],
  ])('%s', async (_what, call, message) => {
    const e = await failure(call());
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toMatch(message);
  });

  it('accepts the largest limit', async () => {
    expect(await records.listEvents({ limit: 10_000 })).toEqual(expect.any(Array));
  });
});

describe('the audit events of a promotion and of its repeat', () => {
  it('say what was promoted where, and what the repeat carried', async () => {
    const first = await records.recordPromotion(promotion());
    const again = await records.recordPromotion(promotion({ attestationDigest: digest('c'), signer: { key: 'other' }, scanSummary: { high: 1 } }));
    const [repeat, promoted] = await records.listEvents({ digest: digest('a'), limit: 2 });
    expect(promoted).toMatchObject({
      id: first.eventId,
      outcome: 'promoted',
      message: `promoted incoming.example.test/team/edges:1 to ${TRUSTED}@${digest('a')}`,
      details: {},
      promotionId: first.id,
    });
    expect(repeat).toMatchObject({
      id: again.eventId,
      outcome: 'already-promoted',
      message: `${TRUSTED}@${digest('a')} was already promoted; kept the existing record`,
      details: { attestationDigest: digest('c'), signer: { key: 'other' }, scanSummary: { high: 1 } },
      promotionId: first.id,
    });
    const none = await records.recordPromotion(promotion({ attestationDigest: undefined }));
    expect(none.created).toBe(false);
    expect((await records.listEvents({ limit: 1 }))[0]!.details).toEqual({ attestationDigest: null, signer: { key: 'developers' }, scanSummary: { high: 0 } });
  });
});

describe('a promotion row that vanishes between the insert and the lookup', () => {
  it('is a RECORD_FAILED error asking for a retry, and nothing is written', async () => {
    // A trigger that drops every new row makes the insert return nothing while no row exists: the
    // same state as a row deleted by someone else between the two statements.
    await db!.exec(`CREATE FUNCTION edges_drop_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
      CREATE TRIGGER edges_drop_row BEFORE INSERT ON promotions FOR EACH ROW EXECUTE FUNCTION edges_drop_row()`);
    try {
      const before = (await records.listEvents({ limit: 10_000 })).length;
      const e = await failure(records.recordPromotion(promotion({ digest: digest('d') })));
      expect(e.code).toBe('RECORD_FAILED');
      expect(e.message).toBe(`${TRUSTED}@${digest('d')} conflicted on insert but is not on the allowlist: retry`);
      expect((await records.listEvents({ limit: 10_000 })).length).toBe(before);
    } finally {
      await db!.exec('DROP TRIGGER edges_drop_row ON promotions; DROP FUNCTION edges_drop_row()');
    }
  });
});
