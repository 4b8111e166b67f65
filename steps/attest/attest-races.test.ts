import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../../test/helpers/fault-proxy.ts';
import { failure } from '../../test/helpers/forge-error.ts';
import { buildImage } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { attestImage, generateKeyPair, signatureTag } from '../lib/cosign.ts';
import { digestOf, manifestOf } from '../lib/crane.ts';
import { attestPromotion } from './attest.ts';
import { PROMOTION_PREDICATE_TYPE, type PromotionPredicate } from './predicate.ts';

/**
 * attest when the `.att` tag does not hold still: a real registry behind a proxy that hides the
 * tag from forge's own reads (crane, told apart from cosign by its user agent), and attestations
 * written beside forge's by the real cosign. Which attestation is reported, and when it gives up.
 */
let registry: Registry;
let proxy: FaultProxy | undefined;
let work: string;
let key: { privateKey: string; publicKey: string };
let otherKey: { privateKey: string; publicKey: string };
let counter = 0;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-attest-races-'));
  [key, otherKey] = await Promise.all([generateKeyPair(await mkdtemp(join(work, 'p-'))), generateKeyPair(await mkdtemp(join(work, 'o-')))]);
}, 60_000);
afterEach(async () => {
  vi.unstubAllEnvs();
  await proxy?.stop();
  proxy = undefined;
});
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * An image behind a proxy that answers 404 to crane's reads of its `.att` while `hide` says so;
 * `hide` is told how many attestations (`.att` manifest writes) there have been.
 */
async function image(hide: (method: string, writes: number) => boolean) {
  let writes = 0;
  proxy = await startFaultProxy(
    registry.url,
    (req) => {
      const att = /\/manifests\/sha256-[0-9a-f]{64}\.att$/.test(req.url ?? '');
      if (att && req.method === 'PUT') writes++;
      return att && /^crane\//.test(req.headers['user-agent'] ?? '') && hide(req.method ?? '', writes);
    },
    404,
  );
  const repository = `${proxy.host}/forge/team/app-${++counter}`;
  const digest = await buildImage(`${repository}:1`, { user: '1000' });
  const att = `${repository}:${signatureTag(digest, 'att')}`;
  return { repository, digest, reference: `${repository}@${digest}`, att, proxy };
}

const predicate = (t: { reference: string; digest: string }, over: Partial<PromotionPredicate> = {}): PromotionPredicate => ({
  source: `incoming.example.test/team/app@${t.digest}`,
  digest: t.digest,
  trusted: t.reference,
  signer: 'developers',
  scan: { passed: true },
  policy: [],
  workflow: { name: 'vp-1', uid: 'uid-1' },
  promotedAt: '2025-06-01T12:00:00.000Z',
  ...over,
});
const signer = (k = key) => ({ key: k.privateKey, transparencyLog: false });
const verifier = (k = key) => ({ key: k.publicKey, transparencyLog: false });

/** Attests any predicate as it is (cosign attest with the promotion predicate type). */
async function attest(reference: string, content: unknown, k = key): Promise<void> {
  const file = join(work, `predicate-${++counter}.json`);
  await writeFile(file, JSON.stringify(content));
  await attestImage(reference, file, PROMOTION_PREDICATE_TYPE, signer(k));
}
const layers = async (att: string) => (await manifestOf(att)).manifest.layers!.map((l) => l.digest);

describe('attest: an .att tag that changes around the signing', () => {
  it('reports the attestation this run signed, not an earlier one of the same promotion it did not see', async () => {
    // Before signing, forge does not see the tag (as if written right after its read).
    const t = await image((_method, writes) => writes <= 5);
    const ours = predicate(t);
    // Same promotion, by the same key, each differing from this run in one thing only; and
    // attestations with no predicate, or none of the run's fields, beside them.
    for (const earlier of [predicate(t, { workflow: { name: 'vp-0', uid: 'uid-1' } }), predicate(t, { workflow: { name: 'vp-1', uid: 'uid-0' } }), predicate(t, { promotedAt: '2025-06-01T11:00:00.000Z' })]) {
      await attest(t.reference, earlier);
    }
    await attest(t.reference, null);
    await attest(t.reference, { source: ours.source, digest: ours.digest, trusted: ours.trusted });
    const result = await attestPromotion(t.reference, ours, signer(), verifier());
    t.proxy.broken = false;
    const all = await layers(t.att);
    expect(all).toHaveLength(6);
    expect(result).toEqual({ attestationDigest: all[5], created: true });
  }, 120_000);

  it('when its own is not among the verified ones, reports the equivalent one by the verifying key, as not created', async () => {
    // Ours is signed with a key the verifier does not take: it stands in for an .att replaced
    // after cosign wrote it, where only an earlier attestation of this promotion remains.
    const t = await image((_method, writes) => writes <= 1);
    await attest(t.reference, predicate(t, { workflow: { name: 'vp-0', uid: 'uid-0' } }), otherKey);
    const result = await attestPromotion(t.reference, predicate(t), signer(), verifier(otherKey));
    t.proxy.broken = false;
    const all = await layers(t.att);
    expect(all).toHaveLength(2);
    expect(result).toEqual({ attestationDigest: all[0], created: false });
  }, 120_000);

  it('fails, naming the image, when neither its own nor an equivalent one verifies after signing', async () => {
    const t = await image((_method, writes) => writes <= 1);
    await attest(t.reference, predicate(t, { source: 'incoming.example.test/other@sha256:1' }), otherKey);
    expect((await failure(attestPromotion(t.reference, predicate(t), signer(), verifier(otherKey)))).toJSON()).toEqual({
      code: 'ATTESTATION_FAILED',
      message: `the promotion attestation of ${t.reference} did not verify after signing`,
      details: [],
    });
  }, 120_000);

  it('reads the tag again when its layer cannot be found, and gives up after three reads', async () => {
    let reads = 0;
    // After signing, forge's reads of the .att manifest fail: once, then always.
    const once = await image((method, writes) => writes > 0 && method === 'GET' && ++reads === 1);
    const result = await attestPromotion(once.reference, predicate(once), signer(), verifier());
    once.proxy.broken = false;
    expect([result.created, [result.attestationDigest]]).toEqual([true, await layers(once.att)]);
    await once.proxy.stop();

    const always = await image((method, writes) => writes > 0 && method === 'GET');
    const e = await failure(attestPromotion(always.reference, predicate(always), signer(), verifier()));
    expect(e.toJSON()).toEqual({
      code: 'ATTESTATION_FAILED',
      message: `the promotion attestation of ${always.reference} verified, but ${always.att} kept changing while its layer was looked up; run the step again`,
      details: [],
    });
    expect(always.proxy.failures).toBe(3);
  }, 120_000);
});

describe('attest: failures of the verification itself', () => {
  it('a verification that cannot run is that error, before anything is signed', async () => {
    const t = await image(() => false);
    await attest(t.reference, predicate(t, { workflow: { name: 'vp-0', uid: 'uid-0' } }));
    const before = await digestOf(t.att);
    const e = await failure(attestPromotion(t.reference, predicate(t), signer(), { transparencyLog: false }));
    expect(e.toJSON()).toEqual({ code: 'INVALID_ARGS', message: 'signature verification needs a key (file, k8s:// secret or KMS URI) or a keyless identity and issuer', details: [] });
    expect(await digestOf(t.att)).toBe(before);
  }, 120_000);

  it("ours not verifying after signing carries cosign's reason and cause; no temporary file is left", async () => {
    const t = await image(() => false);
    const tmp = await mkdtemp(join(work, 'tmp-'));
    vi.stubEnv('TMPDIR', tmp);
    const e = await failure(attestPromotion(t.reference, predicate(t), signer(), verifier(otherKey)));
    expect([e.code, e.message, e.details]).toEqual(['ATTESTATION_FAILED', `the promotion attestation of ${t.reference} did not verify after signing: attestation verification failed for ${t.reference}: no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1`, []]);
    expect((e.cause as Error).message).toMatch(/^attestation verification failed for /);
    expect((await readdir(tmp)).filter((f) => f.startsWith('forge-attest-'))).toEqual([]);
  }, 120_000);
});
