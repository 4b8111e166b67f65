import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { standardLabels } from '../constructs/labels.ts';
import { PROMOTION_PREDICATE_TYPE, VULN_PREDICATE_TYPE } from '../../steps/lib/predicates.ts';
import type { AdmissionConfig, PlatformConfig, VerificationKey } from '../platform-config.ts';
import {
  CEL_POLICY_API_VERSION,
  CLUSTER_POLICY_API_VERSION,
  type AdmissionObject,
  type AttestorSet,
  type CelPolicyCommon,
  type CelValidation,
  type ClusterPolicy,
  type ClusterPolicyRule,
  type CosignKeyAttestor,
  type ImageValidatingPolicy,
  type ImageVerification,
  type Metadata,
  type ResourceRule,
  type StaticKeyEntry,
  type ValidatingPolicy,
  type ValidationAction,
} from './kyverno-types.ts';

/**
 * The Kyverno admission policy of seed 000 §5, generated from `admission` in the platform config:
 * in the configured namespaces a pod (containers, init containers and ephemeral containers) runs
 * only images that
 *
 * 1. come from `registries.trusted` (where only verify-and-promote writes),
 * 2. are pinned by digest (`@sha256:<64 hex>`),
 * 3. carry a cosign signature by the signing key (PEM or KMS URI), and
 * 4. unless switched off, carry the promotion attestation
 *    (`https://forge.dev/attestations/promotion/v1`) signed by the attestation key, and
 * 5. when switched on (`requireVulnerabilityAttestation`), carry the vulnerability attestation
 *    (`https://cosign.sigstore.dev/attestation/vuln/v1`, `cosign attest --type vuln`) signed by the
 *    scanner key: the same scan result verify-and-promote's scan gate trusts.
 *
 * Two forms (docs/admission.md says which Kyverno versions take which):
 * - `ImageValidatingPolicy` (default): a `ValidatingPolicy` for 1 and 2 (pure CEL over every image,
 *   no registry access), plus an `ImageValidatingPolicy` for 3, 4 and 5 limited to trusted images by
 *   `matchImageReferences` (which filters the images Kyverno hands to CEL, so the registry check
 *   cannot live there). Both `policies.kyverno.io/v1`.
 * - `ClusterPolicy` (`kyverno.io/v1`, deprecated): one policy with a `pattern` rule for 1 and 2
 *   and `verifyImages` rules for 3, 4 and 5, for clusters still on Kyverno ≤ 1.19.
 *
 * Without a transparency log (the default) every attestor says so explicitly
 * (`insecureIgnoreTlog` / `rekor.ignoreTlog`), never silently. Objects are plain `ApiObject`s
 * typed by the small interfaces of kyverno-types.ts: no CRD import.
 */

export { PROMOTION_PREDICATE_TYPE, VULN_PREDICATE_TYPE };
export { CEL_POLICY_API_VERSION, CLUSTER_POLICY_API_VERSION };
export type { AdmissionObject, ClusterPolicy, CosignKeyAttestor, ImageValidatingPolicy, StaticKeyEntry, ValidatingPolicy };
/** The Rekor URL older ClusterPolicy schemas require next to `ignoreTlog` (not contacted when ignored). */
export const PUBLIC_REKOR_URL = 'https://rekor.sigstore.dev';
/** Registry and KMS lookups take time: the webhook timeout of the verifying policies, seconds. */
export const VERIFY_TIMEOUT_SECONDS = 30;

export const POLICY_NAMES = {
  trustedRegistry: 'forge-trusted-registry',
  imageSignatures: 'forge-image-signatures',
  clusterPolicy: 'forge-trusted-images',
} as const;

// ---- helpers ----

/** `project-*` → `^(project-.*)$`: namespace globs as one RE2 expression (names hold no other metacharacters). */
export function namespaceRegex(globs: readonly string[]): string {
  return `^(${globs.map((g) => g.replace(/\*/g, '.*').replace(/\?/g, '.')).join('|')})$`;
}

function metadata(name: string, title: string, description: string): Metadata {
  return {
    name,
    labels: standardLabels('admission'),
    annotations: {
      'policies.kyverno.io/title': title,
      'policies.kyverno.io/category': 'Supply Chain Security',
      'policies.kyverno.io/severity': 'high',
      'policies.kyverno.io/subject': 'Pod',
      'policies.kyverno.io/description': description,
    },
  };
}

function validationActions(mode: AdmissionConfig['mode']): ValidationAction[] {
  // Audit also warns the client (kubectl prints it), so a rollout in Audit is visible to developers.
  return mode === 'Enforce' ? ['Deny'] : ['Audit', 'Warn'];
}

function signingKeys(a: AdmissionConfig): VerificationKey[] {
  return [a.signingKey, ...a.additionalSigningKeys];
}

function attestationKeys(a: AdmissionConfig): VerificationKey[] {
  return a.attestationKey ? [a.attestationKey, ...a.additionalAttestationKeys] : signingKeys(a);
}

/** Pods, and the subresource `kubectl debug` adds ephemeral containers through. */
const podRules: ResourceRule[] = [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'] }];

function celCommon(a: AdmissionConfig, validations: CelValidation[]): CelPolicyCommon {
  return {
    validationActions: validationActions(a.mode),
    failurePolicy: 'Fail',
    matchConstraints: { resourceRules: podRules },
    // CEL policies scope by namespace label selectors only; names and globs go through a match condition.
    matchConditions: [{ name: 'forge-namespaces', expression: `request.namespace.matches('${namespaceRegex(a.namespaces)}')` }],
    validations,
  };
}

// ---- ImageValidatingPolicy form ----

function trustedRegistryPolicy(config: PlatformConfig, a: AdmissionConfig): ValidatingPolicy {
  const prefix = `${config.registries.trusted}/`;
  const all = 'variables.allImages';
  return {
    apiVersion: CEL_POLICY_API_VERSION,
    kind: 'ValidatingPolicy',
    metadata: metadata(
      POLICY_NAMES.trustedRegistry,
      'Trusted registry and digest pinning',
      `Every container, init container and ephemeral container image comes from ${prefix} and is pinned by digest.`,
    ),
    spec: {
      ...celCommon(a, [
        {
          expression: `${all}.all(image, image.startsWith('${prefix}'))`,
          message: `images must come from the trusted registry ${prefix} (only forge verify-and-promote writes there)`,
          messageExpression: `'images not from the trusted registry ${prefix}: ' + ${all}.filter(image, !image.startsWith('${prefix}')).join(', ')`,
          reason: 'Forbidden',
        },
        {
          expression: `${all}.all(image, image.matches('@sha256:[0-9a-f]{64}$'))`,
          message: 'images must be pinned by digest (<image>@sha256:<64 hex digits>)',
          messageExpression: `'images not pinned by digest (@sha256:<64 hex>): ' + ${all}.filter(image, !image.matches('@sha256:[0-9a-f]{64}$')).join(', ')`,
          reason: 'Forbidden',
        },
      ]),
      variables: [
        {
          name: 'allImages',
          expression:
            'object.spec.containers.map(c, c.image)' +
            ' + (has(object.spec.initContainers) ? object.spec.initContainers.map(c, c.image) : [])' +
            ' + (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers.map(c, c.image) : [])',
        },
      ],
    },
  };
}

function cosignAttestor(name: string, key: VerificationKey, transparencyLog: boolean): CosignKeyAttestor {
  return {
    name,
    cosign: {
      key: key.kms !== undefined ? { kms: key.kms } : { data: key.publicKey! },
      ctlog: { insecureIgnoreTlog: !transparencyLog, insecureIgnoreSCT: !transparencyLog },
    },
  };
}

function imageSignaturePolicy(config: PlatformConfig, a: AdmissionConfig): ImageValidatingPolicy {
  const trusted = config.registries.trusted;
  const signers = signingKeys(a).map((k, i) => cosignAttestor(`signingKey${i}`, k, a.transparencyLog));
  const attesters = a.attestationKey ? attestationKeys(a).map((k, i) => cosignAttestor(`attestationKey${i}`, k, a.transparencyLog)) : signers;
  const ref = (list: CosignKeyAttestor[]) => `[${list.map((x) => `attestors.${x.name}`).join(', ')}]`;
  // Kyverno extracts these three lists from a pod (and from pod templates for autogen rules).
  const all = '(images.containers + images.initContainers + images.ephemeralContainers)';
  const validations: CelValidation[] = [
    {
      expression: `${all}.all(image, verifyImageSignatures(image, ${ref(signers)}) > 0)`,
      message: `every image from ${trusted}/ must carry a cosign signature by the platform signing key`,
      reason: 'Forbidden',
    },
  ];
  if (a.requirePromotionAttestation) {
    validations.push({
      expression: `${all}.all(image, verifyAttestationSignatures(image, attestations.promotion, ${ref(attesters)}) > 0)`,
      message: `every image from ${trusted}/ must carry the promotion attestation (${PROMOTION_PREDICATE_TYPE}) signed by the promotion key`,
      reason: 'Forbidden',
    });
  }
  const scanner = a.requireVulnerabilityAttestation && a.scannerKey ? [cosignAttestor('scannerKey', a.scannerKey, a.transparencyLog)] : [];
  if (scanner.length > 0) {
    validations.push({
      expression: `${all}.all(image, verifyAttestationSignatures(image, attestations.vulnerabilities, ${ref(scanner)}) > 0)`,
      message: `every image from ${trusted}/ must carry the vulnerability attestation (${VULN_PREDICATE_TYPE}) signed by the platform scanner`,
      reason: 'Forbidden',
    });
  }
  const attestors = [...(a.attestationKey && a.requirePromotionAttestation ? [...signers, ...attesters] : signers), ...scanner];
  const attestations = [
    ...(a.requirePromotionAttestation ? [{ name: 'promotion', intoto: { type: PROMOTION_PREDICATE_TYPE } }] : []),
    ...(scanner.length > 0 ? [{ name: 'vulnerabilities', intoto: { type: VULN_PREDICATE_TYPE } }] : []),
  ];
  return {
    apiVersion: CEL_POLICY_API_VERSION,
    kind: 'ImageValidatingPolicy',
    metadata: metadata(
      POLICY_NAMES.imageSignatures,
      'Signed and promoted images',
      `Images from ${trusted}/ carry a cosign signature by the signing key` +
        (a.requirePromotionAttestation ? ' and the promotion attestation' : '') +
        (scanner.length > 0 ? ', and the vulnerability attestation by the scanner.' : '.') +
        (a.transparencyLog ? '' : ' No transparency log: Rekor is skipped explicitly.'),
    ),
    spec: {
      ...celCommon(a, validations),
      webhookConfiguration: { timeoutSeconds: VERIFY_TIMEOUT_SECONDS },
      // Verification calls the registry (and the KMS): admission only, no background scans.
      evaluation: { background: { enabled: false } },
      matchImageReferences: [{ glob: `${trusted}/*` }],
      // Digests are required, never filled in: no mutation, and a tag is refused.
      validationConfigurations: { mutateDigest: false, verifyDigest: true, required: true },
      attestors,
      ...(attestations.length > 0 ? { attestations } : {}),
    },
  };
}

// ---- ClusterPolicy form ----

function staticKeyEntry(key: VerificationKey, transparencyLog: boolean): StaticKeyEntry {
  return {
    keys: {
      ...(key.kms !== undefined ? { kms: key.kms } : { publicKeys: key.publicKey! }),
      rekor: { url: PUBLIC_REKOR_URL, ignoreTlog: !transparencyLog },
      ctlog: { ignoreSCT: !transparencyLog },
    },
  };
}

function clusterPolicy(config: PlatformConfig, a: AdmissionConfig): ClusterPolicy {
  const trusted = config.registries.trusted;
  const match = { any: [{ resources: { kinds: ['Pod', 'Pod/ephemeralcontainers'], namespaces: [...a.namespaces] } }] };
  const imagePattern = [{ image: `${trusted}/*@sha256:*` }];
  const verify = (extra: Pick<ImageVerification, 'attestors' | 'attestations'>): ImageVerification[] => [
    { imageReferences: [`${trusted}/*`], type: 'Cosign', mutateDigest: false, verifyDigest: true, required: true, ...extra },
  ];
  const anyOf = (keys: VerificationKey[]): AttestorSet[] => [{ count: 1, entries: keys.map((k) => staticKeyEntry(k, a.transparencyLog)) }];
  const rules: ClusterPolicyRule[] = [
    {
      name: 'trusted-registry-and-digest',
      match,
      validate: {
        message: `Images must come from the trusted registry ${trusted}/ and be pinned by digest (@sha256:…); only forge verify-and-promote writes there.`,
        pattern: { spec: { containers: imagePattern, '=(initContainers)': imagePattern, '=(ephemeralContainers)': imagePattern } },
      },
    },
    { name: 'verify-signature', match, verifyImages: verify({ attestors: anyOf(signingKeys(a)) }) },
  ];
  if (a.requirePromotionAttestation) {
    rules.push({
      name: 'verify-promotion-attestation',
      match,
      verifyImages: verify({ attestations: [{ type: PROMOTION_PREDICATE_TYPE, attestors: anyOf(attestationKeys(a)) }] }),
    });
  }
  if (a.requireVulnerabilityAttestation && a.scannerKey) {
    rules.push({
      name: 'verify-vulnerability-attestation',
      match,
      verifyImages: verify({ attestations: [{ type: VULN_PREDICATE_TYPE, attestors: anyOf([a.scannerKey]) }] }),
    });
  }
  return {
    apiVersion: CLUSTER_POLICY_API_VERSION,
    kind: 'ClusterPolicy',
    metadata: metadata(
      POLICY_NAMES.clusterPolicy,
      'Trusted, signed and promoted images',
      `Images come from ${trusted}/, pinned by digest, signed by the signing key` +
        (a.requirePromotionAttestation ? ', with the promotion attestation' : '') +
        (a.requireVulnerabilityAttestation ? ', with the vulnerability attestation by the scanner.' : '.') +
        (a.transparencyLog ? '' : ' No transparency log: Rekor is skipped explicitly.'),
    ),
    spec: {
      validationFailureAction: a.mode,
      background: false,
      failurePolicy: 'Fail',
      webhookTimeoutSeconds: VERIFY_TIMEOUT_SECONDS,
      rules,
    },
  };
}

/** The admission objects for a configuration: none when `admission` is absent or disabled. */
export function admissionObjects(config: PlatformConfig): AdmissionObject[] {
  const a = config.admission;
  if (!a?.enabled) return [];
  if (a.kind === 'ClusterPolicy') return [clusterPolicy(config, a)];
  return [trustedRegistryPolicy(config, a), imageSignaturePolicy(config, a)];
}

/** Cluster-scoped Kyverno policies (no namespace), one YAML file `admission.yaml`. */
export class AdmissionChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { disableResourceNameHashes: true });
    for (const object of admissionObjects(config)) {
      new ApiObject(this, `${object.kind}-${object.metadata.name}`, object);
    }
  }
}
