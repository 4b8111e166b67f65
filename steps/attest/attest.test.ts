import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { generateKeyPair, signatureTag, verifyAttestation } from '../lib/cosign.ts';
import { digestOf, manifestOf } from '../lib/crane.ts';
import { attestPromotion } from './attest.ts';
import { PROMOTION_PREDICATE_TYPE, type PromotionPredicate } from './predicate.ts';

/** The promotion attestation on a real registry with keys made by the real cosign. */
let registry: Registry;
let work: string;
let promotionKey: { privateKey: string; publicKey: string };
let otherKey: { privateKey: string; publicKey: string };
let counter = 0;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-attest-test-'));
  [promotionKey, otherKey] = await Promise.all([generateKeyPair(await mkdtemp(join(work, 'p-'))), generateKeyPair(await mkdtemp(join(work, 'o-')))]);
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function trustedImage() {
  const repository = `${registry.host}/forge/team/app-${++counter}`;
  const digest = await buildImage(`${repository}:1`, { user: '1000' });
  return { repository, digest, reference: `${repository}@${digest}` };
}

const predicate = (t: { reference: string; digest: string }, over: Partial<PromotionPredicate> = {}): PromotionPredicate => ({
  source: `incoming.example.test/team/app@${t.digest}`,
  digest: t.digest,
  trusted: t.reference,
  signer: 'developers (sha256:…)',
  scan: { passed: true },
  policy: [],
  workflow: { name: 'vp-1', uid: 'uid-1' },
  promotedAt: new Date().toISOString(),
  ...over,
});
const signer = () => ({ key: promotionKey.privateKey, transparencyLog: false });
const verifier = (key = promotionKey.publicKey) => ({ key, transparencyLog: false });
const attestations = (reference: string) => verifyAttestation(reference, PROMOTION_PREDICATE_TYPE, verifier());

describe('attest: one promotion attestation per promotion', () => {
  it('signs one, reports the digest of its layer in the .att manifest, and verifies it', async () => {
    const t = await trustedImage();
    const result = await attestPromotion(t.reference, predicate(t), signer(), verifier());
    expect(result.created).toBe(true);
    const { manifest } = await manifestOf(`${t.repository}:${signatureTag(t.digest, 'att')}`);
    expect(manifest.layers!.map((l) => l.digest)).toEqual([result.attestationDigest]);
    expect(await attestations(t.reference)).toHaveLength(1);
  });

  it('a rerun of the same promotion finds it and signs none', async () => {
    const t = await trustedImage();
    const first = await attestPromotion(t.reference, predicate(t), signer(), verifier());
    const attTag = `${t.repository}:${signatureTag(t.digest, 'att')}`;
    const before = await digestOf(attTag);
    const again = await attestPromotion(t.reference, predicate(t, { workflow: { name: 'vp-2', uid: 'uid-2' } }), signer(), verifier());
    expect(again).toEqual({ attestationDigest: first.attestationDigest, created: false });
    expect(await digestOf(attTag)).toBe(before);
  });

  it.each([
    ['another source', (t: { digest: string }) => ({ source: `incoming.example.test/other/app@${t.digest}` })],
    ['another trusted reference', () => ({ trusted: `${registry.host}/forge/elsewhere@sha256:${'e'.repeat(64)}` })],
    ['another digest', () => ({ digest: `sha256:${'d'.repeat(64)}` })],
  ])('an attestation of the same image that names %s is not this promotion: a new one is signed', async (_what, change) => {
    const t = await trustedImage();
    const earlier = await attestPromotion(t.reference, predicate(t, change(t)), signer(), verifier());
    const now = await attestPromotion(t.reference, predicate(t), signer(), verifier());
    expect(now.created).toBe(true);
    expect(now.attestationDigest).not.toBe(earlier.attestationDigest);
    expect(await attestations(t.reference)).toHaveLength(2);
  });

  it('an attestation by another key does not count: ours is signed beside it', async () => {
    const t = await trustedImage();
    await attestPromotion(t.reference, predicate(t), { key: otherKey.privateKey, transparencyLog: false }, verifier(otherKey.publicKey));
    const ours = await attestPromotion(t.reference, predicate(t), signer(), verifier());
    expect(ours.created).toBe(true);
    expect(await attestations(t.reference)).toHaveLength(1);
  });

  it('fails when the verification key does not match the signing key', async () => {
    const t = await trustedImage();
    const e = await attestPromotion(t.reference, predicate(t), signer(), verifier(otherKey.publicKey)).catch((err: unknown) => err as { code: string; message: string });
    expect(e).toMatchObject({ code: 'ATTESTATION_FAILED', message: expect.stringMatching(new RegExp(`^the promotion attestation of ${t.reference.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} did not verify after signing`)) });
  });
});
