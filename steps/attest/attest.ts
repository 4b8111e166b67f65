import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attestImage, signatureTag, verifyAttestation, type SignOptions, type VerifyOptions } from '../lib/cosign.ts';
import { digestOf } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import { PROMOTION_PREDICATE_TYPE, type PromotionPredicate } from './predicate.ts';

export interface AttestResult {
  /** Digest of the `.att` manifest holding the attestation. */
  attestationDigest: string;
  /** False when an attestation of this source and digest by this key already existed (rerun). */
  created: boolean;
}

/**
 * Signs a promotion attestation on the trusted image with the promotion key and verifies it
 * straight after with the matching public key. A rerun finds its earlier attestation and adds none.
 */
export async function attestPromotion(
  trustedReference: string,
  predicate: PromotionPredicate,
  signer: SignOptions,
  verifier: VerifyOptions,
  /** False when the image was just copied with no attestation tag: nothing earlier to find. */
  mayExist = true,
): Promise<AttestResult> {
  const [repository, digest] = trustedReference.split('@') as [string, string];
  const attestationTag = `${repository}:${signatureTag(digest, 'att')}`;
  const existing = mayExist && (await findAttestation(trustedReference, predicate, verifier));
  if (existing) return { attestationDigest: await digestOf(attestationTag), created: false };
  const dir = await mkdtemp(join(tmpdir(), 'forge-attest-'));
  try {
    const file = join(dir, 'predicate.json');
    await writeFile(file, JSON.stringify(predicate));
    await attestImage(trustedReference, file, PROMOTION_PREDICATE_TYPE, signer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const [verified, attestationDigest] = await Promise.all([findAttestation(trustedReference, predicate, verifier), digestOf(attestationTag)]);
  if (!verified) throw new ForgeError('ATTESTATION_FAILED', `the promotion attestation of ${trustedReference} did not verify after signing`);
  return { attestationDigest, created: true };
}

async function findAttestation(reference: string, predicate: PromotionPredicate, verifier: VerifyOptions): Promise<boolean> {
  let statements: unknown[];
  try {
    statements = await verifyAttestation(reference, PROMOTION_PREDICATE_TYPE, verifier);
  } catch (e) {
    if (e instanceof ForgeError && /no matching attestations|none of the attestations matched|no attestations/i.test(e.message)) return false;
    throw e;
  }
  return statements.some((s) => {
    const p = (s as { predicate?: Partial<PromotionPredicate> }).predicate;
    return p?.digest === predicate.digest && p?.source === predicate.source && p?.trusted === predicate.trusted;
  });
}
