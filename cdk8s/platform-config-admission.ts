import { z } from 'zod';
import { namespaceGlob, verificationKey } from './platform-config-primitives.ts';

/**
 * The Kyverno admission policy (cdk8s/charts/admission.ts, docs/admission.md): in the listed
 * namespaces, pods run only digest-pinned images from `registries.trusted` that carry a cosign
 * signature by `signingKey` (and, by default, the promotion attestation). Without this section no
 * admission policy is generated.
 */
export const admissionSchema = z
  .strictObject({
    /** Generate the policy; `false` keeps the section but emits nothing. */
    enabled: z.boolean().default(true),
    /**
     * Policy kind: `ImageValidatingPolicy` (policies.kyverno.io/v1, Kyverno ≥ 1.17) or the
     * deprecated `ClusterPolicy` (kyverno.io/v1, Kyverno 1.11–1.19; removal planned in 1.20).
     */
    kind: z.enum(['ImageValidatingPolicy', 'ClusterPolicy']).default('ImageValidatingPolicy'),
    /** Namespaces the policy applies to: names or globs (`*`, `?`), e.g. `project-*`. */
    namespaces: z.array(namespaceGlob).min(1, 'list at least one namespace (name or glob)').default(['project-*']),
    /** `Enforce` denies a violating pod; `Audit` admits it and reports (roll out in Audit first). */
    mode: z.enum(['Enforce', 'Audit']).default('Enforce'),
    /** Key whose cosign signature every image must carry (the key `forge sign` / `cosign sign --key` uses). */
    signingKey: verificationKey,
    /** Further signing keys also accepted (key rotation: add the new key here, swap, then remove the old one). */
    additionalSigningKeys: z.array(verificationKey).default([]),
    /** Require the promotion attestation (`https://forge.dev/attestations/promotion/v1`) verify-and-promote writes. */
    requirePromotionAttestation: z.boolean().default(true),
    /** Key that signs promotion attestations; defaults to `signingKey` (and `additionalSigningKeys`). */
    attestationKey: verificationKey.optional(),
    /** Further attestation keys also accepted (rotation); needs `attestationKey`. */
    additionalAttestationKeys: z.array(verificationKey).default([]),
    /**
     * Also require the vulnerability attestation (`https://cosign.sigstore.dev/attestation/vuln/v1`,
     * `cosign attest --type vuln`) signed by `scannerKey`: the same scan result verify-and-promote's
     * scan gate trusts. Off by default.
     */
    requireVulnerabilityAttestation: z.boolean().default(false),
    /** The scanner's key (the public half of what signs vulnerability attestations); needed by `requireVulnerabilityAttestation`. */
    scannerKey: verificationKey.optional(),
    /**
     * Whether signatures are recorded in a Rekor transparency log. This platform has none, so the
     * default `false` tells Kyverno explicitly to skip the log (`ignoreTlog`/`insecureIgnoreTlog`).
     */
    transparencyLog: z.boolean().default(false),
  })
  .refine((a) => a.attestationKey !== undefined || a.additionalAttestationKeys.length === 0, {
    message: 'additionalAttestationKeys needs attestationKey (without it attestations are verified with the signing keys)',
    path: ['additionalAttestationKeys'],
  })
  .refine((a) => !a.requireVulnerabilityAttestation || a.scannerKey !== undefined, {
    message: 'requireVulnerabilityAttestation needs scannerKey (the key that signs vulnerability attestations)',
    path: ['scannerKey'],
  });
