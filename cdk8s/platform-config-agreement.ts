import { createPublicKey } from 'node:crypto';
import type { z } from 'zod';

// Checks across sections of the platform config (cdk8s/platform-config.ts runs them after each
// section's own schema): verify-and-promote, the scanner and the admission policy must agree.

/** What identifies a key across sections: the DER of a PEM public key, or the KMS URI. */
function keyIdentity(key: { publicKey?: string; kms?: string }): string | undefined {
  if (key.kms !== undefined) return `kms:${key.kms}`;
  if (key.publicKey === undefined) return undefined;
  try {
    return `spki:${createPublicKey(key.publicKey).export({ type: 'spki', format: 'der' }).toString('base64')}`;
  } catch {
    return undefined; // reported by the field's own check
  }
}

/**
 * verify-and-promote and the admission policy must agree, or every promoted image is refused at
 * deploy time: each promotion verification key must be one admission accepts, the attestation
 * verify-and-promote signs must verify with an admission attestation key, and a platform that
 * promotes without a transparency log cannot admit only logged signatures. Keys kept in
 * Kubernetes Secrets (k8s://) or keyless identities cannot be compared here and are skipped.
 */
export function checkPromotionMatchesAdmission(
  config: {
    admission?: { enabled: boolean; signingKey: object; additionalSigningKeys: object[]; requirePromotionAttestation: boolean; attestationKey?: object; additionalAttestationKeys: object[]; transparencyLog: boolean; requireVulnerabilityAttestation: boolean; scannerKey?: object };
    promotion?: { transparencyLog: boolean; verificationKeys: Record<string, object>; attestationPublicKey: object; scanner: object };
  },
  ctx: z.RefinementCtx,
): void {
  const { admission, promotion } = config;
  if (promotion) checkScannerIsNotASubmitterKey(promotion, ctx);
  if (!admission?.enabled || !promotion) return;
  if (admission.requireVulnerabilityAttestation && admission.scannerKey) {
    const id = keyIdentity(admission.scannerKey);
    const scanner = keyIdentity(promotion.scanner);
    if (id !== undefined && scanner !== undefined && id !== scanner) {
      ctx.addIssue({
        code: 'custom',
        path: ['admission', 'scannerKey'],
        message: 'admission.scannerKey is not promotion.scanner: admission would require vulnerability attestations by another signer than the one the scan gate trusts',
      });
    }
  }
  const ids = (keys: object[]) => new Set(keys.map((k) => keyIdentity(k)).filter((id) => id !== undefined));
  const signing = ids([admission.signingKey, ...admission.additionalSigningKeys]);
  for (const [name, key] of Object.entries(promotion.verificationKeys)) {
    const id = keyIdentity(key);
    if (id !== undefined && !signing.has(id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['promotion', 'verificationKeys', name],
        message: `this key is not admission.signingKey or one of admission.additionalSigningKeys: images verified with it would be promoted and then refused at admission`,
      });
    }
  }
  if (admission.requirePromotionAttestation) {
    const attesting = admission.attestationKey ? ids([admission.attestationKey, ...admission.additionalAttestationKeys]) : signing;
    const id = keyIdentity(promotion.attestationPublicKey);
    if (id !== undefined && !attesting.has(id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['promotion', 'attestationPublicKey'],
        message: `admission requires the promotion attestation, but verifies it with ${admission.attestationKey ? 'admission.attestationKey/additionalAttestationKeys' : 'the signing keys (no admission.attestationKey)'}, and this key is not among them`,
      });
    }
  }
  if (admission.transparencyLog && !promotion.transparencyLog) {
    ctx.addIssue({
      code: 'custom',
      path: ['admission', 'transparencyLog'],
      message: 'admission requires transparency-log entries, but promotion.transparencyLog is false: the attestations verify-and-promote signs are not logged, so promoted images would be refused',
    });
  }
}

/**
 * The scan gate trusts a vulnerability attestation only when the submitter cannot sign one: the
 * scanner must not be one of the keys submitters sign their images with.
 */
function checkScannerIsNotASubmitterKey(promotion: { verificationKeys: Record<string, object>; scanner: object }, ctx: z.RefinementCtx): void {
  const scanner = keyIdentity(promotion.scanner);
  for (const [name, key] of Object.entries(promotion.verificationKeys)) {
    const same = scanner !== undefined ? keyIdentity(key) === scanner : JSON.stringify(key) === JSON.stringify(promotion.scanner);
    if (same) {
      ctx.addIssue({
        code: 'custom',
        path: ['promotion', 'scanner'],
        message: `the scanner is the verification key "${name}" that submitters sign images with: a submitter could then sign their own scan result; give the scanner its own key or identity`,
      });
    }
  }
}
