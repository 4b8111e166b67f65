import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown, failure } from '../../test/helpers/forge-error.ts';
import { startPostgres } from '../../test/helpers/postgres.ts';
import { openDatabase, type Database } from '../lib/records/db.ts';
import { PromotionRecords } from '../lib/records/records.ts';
import { fromFailures, planRecord, record, type RecordRequest } from './record.ts';
import { tempRecordsDatabase } from '../../test/helpers/records.ts';

/**
 * The record step's core in this process (record.test.ts drives the `forge record` process):
 * what Argo's failures become, what is refused before any database is opened, and what lands in
 * a real PGlite database.
 */

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const TRUSTED = 'registry.example.test:5000/trusted/app';
const SOURCE = 'incoming.example.test/team/app:1.2.3';
const SHA512 = `sha512:${'f'.repeat(128)}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;


describe("fromFailures: Argo's {{workflow.failures}}", () => {
  const node = (displayName: string, message: string, phase = 'Failed') => ({ displayName, templateName: `t-${displayName}`, message, phase });

  it('reads the list, also Go-quoted (a JSON string holding the JSON), and strips the pod prefix of v3.6 and v4', () => {
    const list = [node('verify', 'Error (exit code 1): SIGNATURE_INVALID: no signature by developers')];
    const expected = {
      outcome: 'refused',
      check: 'verify',
      message: 'SIGNATURE_INVALID: no signature by developers',
      details: { failures: [{ node: 'verify', phase: 'Failed', message: 'SIGNATURE_INVALID: no signature by developers' }] },
    };
    expect(fromFailures(JSON.stringify(list))).toEqual(expected);
    expect(fromFailures(JSON.stringify(JSON.stringify(list)))).toEqual(expected);
    const v4 = [node('scan', 'main.step-1: Error (exit code 12): SCAN_BLOCKED: 2 HIGH  ')];
    expect(fromFailures(JSON.stringify(v4))).toMatchObject({ outcome: 'refused', check: 'scan', message: 'SCAN_BLOCKED: 2 HIGH' });
  });

  it("keeps a message that only looks like a prefix in the middle, and one that is the step's own words", () => {
    const words = 'TOOL_FAILED: crane said: Error (exit code 1): boom';
    expect(fromFailures(JSON.stringify([node('copy', words)])).message).toBe(words);
    expect(fromFailures(JSON.stringify([node('copy', 'two words: Error (exit code 1): x')])).message).toBe('two words: Error (exit code 1): x');
  });

  it("prefers a gate's refusal to an earlier failure, and any message to none", () => {
    const refusal = fromFailures(JSON.stringify([node('main', ''), node('copy', 'TOOL_FAILED: registry down'), node('policy', 'Error (exit code 1): POLICY_VIOLATION: USER 0')]));
    expect(refusal).toMatchObject({ outcome: 'refused', check: 'policy', message: 'POLICY_VIOLATION: USER 0' });
    expect(refusal.details).toEqual({
      failures: [
        { node: 'main', phase: 'Failed', message: '' },
        { node: 'copy', phase: 'Failed', message: 'TOOL_FAILED: registry down' },
        { node: 'policy', phase: 'Failed', message: 'POLICY_VIOLATION: USER 0' },
      ],
    });
    expect(fromFailures(JSON.stringify([node('main', ''), node('copy', 'TOOL_FAILED: registry down')]))).toMatchObject({ outcome: 'failed', check: 'copy', message: 'TOOL_FAILED: registry down' });
  });

  it.each(['SIGNATURE_INVALID: x', 'SCAN_BLOCKED: x', 'POLICY_VIOLATION: x'])('%s is a refusal', (message) => {
    expect(fromFailures(JSON.stringify([node('n', message)])).outcome).toBe('refused');
  });

  it.each(['POLICY_VIOLATIONS: x', 'TOOL_FAILED: SIGNATURE_INVALID later', 'INVALID_ARGS: x'])('%s is a failure, not a refusal', (message) => {
    expect(fromFailures(JSON.stringify([node('n', message)])).outcome).toBe('failed');
  });

  it('names the template when the node has no display name, and the workflow when nothing is known', () => {
    expect(fromFailures(JSON.stringify([{ templateName: 'verify-signature', message: 'SIGNATURE_INVALID: x' }]))).toEqual({
      outcome: 'refused',
      check: 'verify-signature',
      message: 'SIGNATURE_INVALID: x',
      details: { failures: [{ node: 'verify-signature', phase: '', message: 'SIGNATURE_INVALID: x' }] },
    });
    expect(fromFailures(JSON.stringify([{ phase: 'Error' }]))).toEqual({
      outcome: 'failed',
      check: 'workflow',
      message: 'the workflow failed before any step reported why',
      details: { failures: [{ node: '', phase: 'Error', message: '' }] },
    });
    expect(fromFailures('[]')).toEqual({ outcome: 'failed', check: 'workflow', message: 'the workflow failed before any step reported why', details: { failures: [] } });
  });

  it.each([
    ['{nope', /^--failures is not the JSON list Argo passes as \{\{workflow\.failures\}\}: .*JSON/],
    ['{"displayName":"x"}', /^--failures is not the JSON list Argo passes as \{\{workflow\.failures\}\}: not a list$/],
    ['"just text"', /^--failures is not the JSON list Argo passes as \{\{workflow\.failures\}\}: .*JSON/],
    ['"{\\"a\\":1}"', /: not a list$/],
  ])('refuses %s', (json, message) => {
    const e = thrown(() => fromFailures(json));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toMatch(message);
  });
});

describe('planRecord: refused before any database is opened', () => {
  it.each<[string, RecordRequest, string]>([
    ['no source reference', { outcome: 'refused', message: 'm' }, '--source-reference is required (the reference promotion was asked for)'],
    ['a promotion without its trusted reference', { outcome: 'promoted', sourceReference: SOURCE }, '--trusted-reference is required to record a promotion'],
    ['a refusal without a message', { outcome: 'refused', sourceReference: SOURCE }, '--message is required to record a refused promotion'],
    ['a failure without a message', { outcome: 'failed', sourceReference: SOURCE }, '--message is required to record a failed promotion'],
    // The reference grammar takes any algorithm:hex; the records keep sha256 digests only.
    ['a sha512 digest in the trusted reference', { outcome: 'refused', sourceReference: SOURCE, message: 'm', trustedReference: `${TRUSTED}@${SHA512}` }, `digest "${SHA512}" is not sha256:<64 lowercase hex characters>`],
    ['a sha512 digest in the source reference', { outcome: 'failed', sourceReference: `in.example.test/app@${SHA512}`, message: 'm' }, `digest "${SHA512}" is not sha256:<64 lowercase hex characters>`],
  ])('%s', (_what, request, message) => {
    const e = thrown(() => planRecord(request));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toBe(message);
  });

  it('a promotion needs a pinned trusted reference; any reference must parse', () => {
    expect(thrown(() => planRecord({ outcome: 'promoted', sourceReference: SOURCE, trustedReference: `${TRUSTED}:1.0` })).message).toMatch(/is not pinned/);
    expect(thrown(() => planRecord({ outcome: 'refused', sourceReference: SOURCE, message: 'm', trustedReference: `${TRUSTED}@sha256:1234` })).message).toMatch(/is not a valid image reference/);
    expect(thrown(() => planRecord({ outcome: 'refused', sourceReference: 'in.example.test/app@sha256:abc', message: 'm' })).message).toMatch(/is not a valid image reference/);
  });

  it('record() validates before it opens: no PGlite directory is created for a bad request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-record-plan-'));
    try {
      const e = await failure(record({ outcome: 'refused', sourceReference: SOURCE }, { stateDir: dir }));
      expect(e.message).toBe('--message is required to record a refused promotion');
      await expect(access(join(dir, 'records'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('planRecord: what is written (PGlite)', () => {
  let temp: Awaited<ReturnType<typeof tempRecordsDatabase>> | undefined;
  let db: Database | undefined;
  let records: PromotionRecords;

  beforeAll(async () => {
    temp = await tempRecordsDatabase('forge-record-plan');
    db = temp.db;
    records = new PromotionRecords(db);
  }, 120_000);
  afterAll(async () => {
    await temp?.cleanup();
  });

  const lastEvent = async () => (await records.listEvents({ limit: 1 }))[0]!;

  it('a promotion: on the allowlist once, "already-promoted" after that', async () => {
    const request: RecordRequest = {
      outcome: 'promoted',
      sourceReference: SOURCE,
      trustedReference: `${TRUSTED}:1.2.3@${digest('a')}`,
      signer: { key: 'developers' },
      scanSummary: { high: 0 },
      policyResults: [{ check: 'non-root', passed: true }],
      attestationDigest: digest('b'),
      workflowName: 'vp-1',
      workflowUid: 'uid-1',
    };
    const first = await planRecord(request)(records);
    expect(first).toEqual({ outcome: 'promoted', id: expect.stringMatching(UUID), created: true, eventId: expect.stringMatching(/^\d+$/), trustedReference: `${TRUSTED}@${digest('a')}` });
    expect(await records.findPromotion(TRUSTED, digest('a'))).toMatchObject({
      id: first.id,
      sourceReference: SOURCE,
      signer: { key: 'developers' },
      scanSummary: { high: 0 },
      policyResults: [{ check: 'non-root', passed: true }],
      attestationDigest: digest('b'),
      workflowName: 'vp-1',
      workflowUid: 'uid-1',
    });
    const again = await planRecord(request)(records);
    expect(again).toEqual({ outcome: 'already-promoted', id: first.id, created: false, eventId: expect.stringMatching(/^\d+$/), trustedReference: `${TRUSTED}@${digest('a')}` });
    expect(again.eventId).not.toBe(first.eventId);
  });

  it('a refusal with a trusted reference: its digest and repository, and the reference as given in the output', async () => {
    const trustedReference = `${TRUSTED}@${digest('c')}`;
    const out = await planRecord({ outcome: 'refused', sourceReference: SOURCE, trustedReference, check: 'scan', message: 'SCAN_BLOCKED: 1 HIGH', details: { high: 1 }, workflowName: 'vp-2', workflowUid: 'uid-2' })(records);
    expect(out).toEqual({ outcome: 'refused', id: '', created: false, eventId: expect.stringMatching(/^\d+$/), trustedReference });
    expect(await lastEvent()).toMatchObject({
      id: out.eventId,
      outcome: 'refused',
      sourceReference: SOURCE,
      digest: digest('c'),
      trustedRepository: TRUSTED,
      checkName: 'scan',
      message: 'SCAN_BLOCKED: 1 HIGH',
      details: { high: 1 },
      workflowName: 'vp-2',
      workflowUid: 'uid-2',
      promotionId: null,
    });
    expect(await records.isAllowed(trustedReference)).toBe(false);
  });

  it('a failure: the digest of a pinned source, none for a tag, and no trusted reference in the output', async () => {
    const pinned = await planRecord({ outcome: 'failed', sourceReference: `incoming.example.test/app@${digest('d')}`, message: 'TOOL_FAILED: x' })(records);
    expect(pinned).toEqual({ outcome: 'failed', id: '', created: false, eventId: expect.stringMatching(/^\d+$/) });
    expect(await lastEvent()).toMatchObject({ outcome: 'failed', digest: digest('d'), trustedRepository: null, checkName: null });
    await planRecord({ outcome: 'failed', sourceReference: SOURCE, message: 'TOOL_FAILED: y' })(records);
    expect(await lastEvent()).toMatchObject({ outcome: 'failed', digest: null, message: 'TOOL_FAILED: y' });
  });

  it("Argo's failures fill outcome, check, message and details; given values win", async () => {
    const failures = JSON.stringify([{ displayName: 'verify', phase: 'Failed', message: 'Error (exit code 1): SIGNATURE_INVALID: unsigned' }]);
    // outcome 'promoted' (the default) is overridden by what the failures say.
    const out = await planRecord({ outcome: 'promoted', sourceReference: SOURCE, failures })(records);
    expect(out.outcome).toBe('refused');
    expect(await lastEvent()).toMatchObject({
      outcome: 'refused',
      checkName: 'verify',
      message: 'SIGNATURE_INVALID: unsigned',
      details: { failures: [{ node: 'verify', phase: 'Failed', message: 'SIGNATURE_INVALID: unsigned' }] },
    });
    await planRecord({ outcome: 'promoted', sourceReference: SOURCE, failures, check: 'exit-handler', message: 'given', details: { given: true } })(records);
    expect(await lastEvent()).toMatchObject({ outcome: 'refused', checkName: 'exit-handler', message: 'given', details: { given: true } });
  });
});

describe('record(): opens PGlite under the state directory, writes, closes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-record-state-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names the database by its directory, and can open it again (it was closed)', async () => {
    const request: RecordRequest = { outcome: 'promoted', sourceReference: SOURCE, trustedReference: `${TRUSTED}@${digest('e')}` };
    const first = await record(request, { stateDir: dir });
    expect(first).toMatchObject({ outcome: 'promoted', created: true, trustedReference: `${TRUSTED}@${digest('e')}`, database: { kind: 'pglite', location: join(dir, 'records') } });
    const again = await record(request, { stateDir: dir });
    expect(again).toMatchObject({ outcome: 'already-promoted', id: first.id, created: false, database: { kind: 'pglite', location: join(dir, 'records') } });
  }, 120_000);

  it('a server URL wins over the state directory; its location is printed without credentials', async () => {
    const server = await startPostgres();
    try {
      const url = await server.createDatabase('record_plan');
      await (await openDatabase({ url, schema: 'migrate' })).close();
      const out = await record({ outcome: 'failed', sourceReference: SOURCE, message: 'TOOL_FAILED: x' }, { databaseUrl: url, stateDir: join(dir, 'unused') });
      expect(out).toMatchObject({ outcome: 'failed', database: { kind: 'postgres', location: `postgresql://127.0.0.1:${server.port}/record_plan` } });
      await expect(access(join(dir, 'unused'))).rejects.toThrow(/ENOENT/);
      const rows = await server.query<{ outcome: string }>('SELECT outcome FROM promotion_events', [], 'record_plan');
      expect(rows).toEqual([{ outcome: 'failed' }]);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
