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
    const earlier = await locate(trustedReference, repository, attestationTag, verifier, [(p) => samePromotion(p, predicate)], false);
    if (earlier) return { attestationDigest: earlier.digest, created: false };
  }
  const dir = await mkdtemp(join(tmpdir(), 'forge-attest-'));
  try {
    const file = join(dir, 'predicate.json');
    await writeFile(file, JSON.stringify(predicate));
    await attestImage(trustedReference, file, PROMOTION_PREDICATE_TYPE, signer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Ours, or else — if something outside the per-image lock replaced the `.att` manifest after
  // reading it (a registry tag has no compare-and-swap) — the equivalent one by the same key.
  const found = await locate(trustedReference, repository, attestationTag, verifier, [(p) => sameRun(p, predicate), (p) => samePromotion(p, predicate)], true);
  if (found) return { attestationDigest: found.digest, created: found.choice === 0 };
  throw new ForgeError('ATTESTATION_FAILED', `the promotion attestation of ${trustedReference} did not verify after signing`);
}

type Wanted = (p: Partial<PromotionPredicate> | undefined) => boolean;

/**
 * The layer digest of a verified promotion attestation that one of `wanted` accepts (the
 * earliest in that list wins; `choice` says which), or undefined when none does. One cosign
 * run reports the verified envelopes; the `.att` manifest is read at the same time, and the
 * layer whose envelope carries a wanted payload is the attestation. If the manifest changed in
 * between (another attestation was added), both are read again.
 */
async function locate(
  reference: string,
  repository: string,
  attestationTag: string,
  verifier: VerifyOptions,
  wanted: Wanted[],
  justSigned: boolean,
): Promise<{ digest: string; choice: number } | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [verified, { manifest }] = await Promise.all([verifiedOrNone(reference, verifier, justSigned), manifestOf(attestationTag).catch(() => ({ manifest: {} as Manifest }))]);
    // payload → the first of `wanted` that accepts it
    const choices = new Map<string, number>();
    for (const a of verified) {
      const choice = wanted.findIndex((w) => w(predicateOf(a)));
      if (choice !== -1) choices.set(a.payload, choice);
    }
    if (choices.size === 0) return undefined;
    const layers = (manifest.layers ?? []).filter((l) => l.mediaType === DSSE_ENVELOPE);
    const envelopes = await Promise.all(layers.map(async (l) => ({ digest: l.digest, payload: (JSON.parse(await blobOf(`${repository}@${l.digest}`)) as { payload: string }).payload })));
    const found = envelopes
      .flatMap((e) => (choices.has(e.payload) ? [{ digest: e.digest, choice: choices.get(e.payload)! }] : []))
      .sort((x, y) => x.choice - y.choice)[0];
    if (found) return found;
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
