import { verifyImage, type KeylessIdentity, type VerifiedSignature } from '../lib/cosign.ts';
import { ForgeError } from '../lib/errors.ts';

export interface VerifyPolicy {
  /** Public key: file path, `k8s://<namespace>/<secret>`, or KMS URI (`gcpkms://…`). */
  key?: string;
  keyless?: KeylessIdentity;
  /** Explicit: false means "no Rekor here" and verification says so (`--insecure-ignore-tlog`). */
  transparencyLog: boolean;
  /** How the signer is named in outputs and records (default: the key reference). */
  label?: string;
}

/**
 * Verifies the cosign signature of an image by digest. cosign checks the signature over the
 * payload and that the payload's digest claim is this image's digest; we check it again.
 */
export async function verifySignature(reference: string, policy: VerifyPolicy): Promise<VerifiedSignature & { transparencyLog: boolean }> {
  const digest = reference.split('@')[1];
  if (!digest) throw new ForgeError('INVALID_ARGS', `verify needs a digest reference, got ${reference}`);
  const verified = await verifyImage(reference, policy);
  // Defence in depth: cosign already refuses a payload claiming another digest ("invalid or
  // missing digest in claim", shown in verify.test.ts), so no real cosign run reaches the throw.
  // Stryker disable ConditionalExpression,BlockStatement,StringLiteral: equivalent while cosign checks the claim
  if (verified.digest !== digest) {
    throw new ForgeError('SIGNATURE_INVALID', `the signature of ${reference} claims ${verified.digest}: refusing`);
  }
  // Stryker restore ConditionalExpression,BlockStatement,StringLiteral
  return { ...verified, ...(policy.label ? { signer: policy.label } : {}), transparencyLog: policy.transparencyLog };
}
