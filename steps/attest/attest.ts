import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attestImage, signatureTag, verifiedAttestations, type SignOptions, type VerifiedAttestation, type VerifyOptions } from '../lib/cosign.ts';
import { blobOf, exists, manifestOf, type Manifest } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import { PROMOTION_PREDICATE_TYPE, type PromotionPredicate } from './predicate.ts';

export interface AttestResult {
  /**
   * Digest of the attestation itself: the DSSE envelope layer in the `sha256-<hex>.att` manifest.
   * Unlike the manifest's digest it stays valid when other attestations (an SBOM, a later
   * promotion) are added to the image: cosign appends them as further layers of a new manifest.
   */
  attestationDigest: string;
  /** False when an attestation of this source and digest by this key already existed (rerun). */
  created: boolean;
}

const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';

/** Whether the attestation is about this promotion: same source, digest and trusted reference. */
const samePromotion = (p: Partial<PromotionPredicate> | undefined, want: PromotionPredicate): boolean =>
  p?.digest === want.digest && p?.source === want.source && p?.trusted === want.trusted;

/** Whether it is the very attestation this run signed (its workflow and time are in it). */
const sameRun = (p: Partial<PromotionPredicate> | undefined, want: PromotionPredicate): boolean =>
  samePromotion(p, want) && p?.workflow?.name === want.workflow.name && p?.workflow?.uid === want.workflow.uid && p?.promotedAt === want.promotedAt;

const predicateOf = (a: VerifiedAttestation) => (a.statement as { predicate?: Partial<PromotionPredicate> }).predicate;

/**
 * Signs a promotion attestation on the trusted image with the promotion key and verifies it
 * straight after with the matching public key. A rerun finds its earlier attestation and adds none.
 */
export async function attestPromotion(
  trustedReference: string,
  predicate: PromotionPredicate,
  signer: SignOptions,
  verifier: VerifyOptions,
): Promise<AttestResult> {
  const [repository, digest] = trustedReference.split('@') as [string, string];
  const attestationTag = `${repository}:${signatureTag(digest, 'att')}`;
  // Without an .att tag there is nothing earlier to find (one registry read instead of a cosign run).
  if (await exists(attestationTag)) {
    const earlier = await locate(trustedReference, attestationTag, verifier, (p) => samePromotion(p, predicate), false);
    if (earlier) return { attestationDigest: earlier, created: false };
  }
  const dir = await mkdtemp(join(tmpdir(), 'forge-attest-'));
  try {
    const file = join(dir, 'predicate.json');
    await writeFile(file, JSON.stringify(predicate));
    await attestImage(trustedReference, file, PROMOTION_PREDICATE_TYPE, signer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const ours = await locate(trustedReference, attestationTag, verifier, (p) => sameRun(p, predicate), true);
  if (ours) return { attestationDigest: ours, created: true };
  // A promotion of the same digest running at the same time may have replaced the `.att`
  // manifest after reading it (a registry tag has no compare-and-swap). Its attestation, by the
  // same key, says the same about the image: use it.
  const twin = await locate(trustedReference, attestationTag, verifier, (p) => samePromotion(p, predicate), true);
  if (twin) return { attestationDigest: twin, created: false };
  throw new ForgeError('ATTESTATION_FAILED', `the promotion attestation of ${trustedReference} did not verify after signing`);
}

/**
 * The layer digest of a verified promotion attestation that `wanted` accepts, or undefined when
 * none verifies. cosign reports the verified envelopes; the `.att` manifest is read at the same
 * time and the layer whose envelope carries that payload is the attestation. If the manifest
 * changed in between (another attestation was added), it is read again.
 */
async function locate(
  reference: string,
  attestationTag: string,
  verifier: VerifyOptions,
  wanted: (p: Partial<PromotionPredicate> | undefined) => boolean,
  justSigned: boolean,
): Promise<string | undefined> {
  const repository = attestationTag.slice(0, attestationTag.lastIndexOf(':'));
  for (let attempt = 0; attempt < 3; attempt++) {
    const [verified, { manifest }] = await Promise.all([verifiedOrNone(reference, verifier, justSigned), manifestOf(attestationTag).catch(() => ({ manifest: {} as Manifest }))]);
    const payloads = new Set(verified.filter((a) => wanted(predicateOf(a))).map((a) => a.payload));
    if (payloads.size === 0) return undefined;
    const layers = (manifest.layers ?? []).filter((l) => l.mediaType === DSSE_ENVELOPE);
    const envelopes = await Promise.all(layers.map(async (l) => ({ digest: l.digest, envelope: JSON.parse(await blobOf(`${repository}@${l.digest}`)) as { payload?: string } })));
    const found = envelopes.find((e) => e.envelope.payload !== undefined && payloads.has(e.envelope.payload));
    if (found) return found.digest;
  }
  throw new ForgeError('ATTESTATION_FAILED', `the promotion attestation of ${reference} verified, but ${attestationTag} kept changing while its layer was looked up; run the step again`);
}

/** The verified attestations; none at all is not an error before signing (nothing there yet). */
async function verifiedOrNone(reference: string, verifier: VerifyOptions, justSigned: boolean): Promise<VerifiedAttestation[]> {
  try {
    return await verifiedAttestations(reference, PROMOTION_PREDICATE_TYPE, verifier);
  } catch (e) {
    if (e instanceof ForgeError && /no matching attestations|none of the attestations matched|no attestations/i.test(e.message)) {
      if (justSigned) throw new ForgeError('ATTESTATION_FAILED', `the promotion attestation of ${reference} did not verify after signing: ${e.message}`, [], { cause: e });
      return [];
    }
    throw e;
  }
}
