/**
 * The shapes of the Kyverno objects cdk8s/charts/admission.ts emits (only the fields it emits):
 * plain interfaces, no CRD import.
 */

export const CEL_POLICY_API_VERSION = 'policies.kyverno.io/v1';
export const CLUSTER_POLICY_API_VERSION = 'kyverno.io/v1';

export interface Metadata {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** admissionregistration.k8s.io/v1 NamedRuleWithOperations, as CEL policies take it. */
export interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: Array<'CREATE' | 'UPDATE'>;
  resources: string[];
}

export interface NamedExpression {
  name: string;
  expression: string;
}

export interface CelValidation {
  expression: string;
  message: string;
  messageExpression?: string;
  reason?: 'Forbidden';
}

export type ValidationAction = 'Deny' | 'Audit' | 'Warn';

export interface CelPolicyCommon {
  validationActions: ValidationAction[];
  failurePolicy: 'Fail';
  matchConstraints: { resourceRules: ResourceRule[] };
  matchConditions: NamedExpression[];
  validations: CelValidation[];
}

/** policies.kyverno.io/v1 ValidatingPolicy. */
export interface ValidatingPolicy {
  apiVersion: typeof CEL_POLICY_API_VERSION;
  kind: 'ValidatingPolicy';
  metadata: Metadata;
  spec: CelPolicyCommon & { variables: NamedExpression[] };
}

/** A cosign key attestor of an ImageValidatingPolicy. */
export interface CosignKeyAttestor {
  name: string;
  cosign: {
    key: { data: string } | { kms: string };
    ctlog: { insecureIgnoreTlog: boolean; insecureIgnoreSCT: boolean };
  };
}

/** policies.kyverno.io/v1 ImageValidatingPolicy. */
export interface ImageValidatingPolicy {
  apiVersion: typeof CEL_POLICY_API_VERSION;
  kind: 'ImageValidatingPolicy';
  metadata: Metadata;
  spec: CelPolicyCommon & {
    webhookConfiguration: { timeoutSeconds: number };
    evaluation: { background: { enabled: boolean } };
    matchImageReferences: Array<{ glob: string }>;
    validationConfigurations: { mutateDigest: boolean; verifyDigest: boolean; required: boolean };
    attestors: CosignKeyAttestor[];
    attestations?: Array<{ name: string; intoto: { type: string } }>;
  };
}

/** A static-key attestor entry of a ClusterPolicy `verifyImages` rule. */
export interface StaticKeyEntry {
  keys: ({ publicKeys: string } | { kms: string }) & {
    rekor: { url: string; ignoreTlog: boolean };
    ctlog: { ignoreSCT: boolean };
  };
}

export interface AttestorSet {
  /** 1: any one entry verifies (a logical OR, for key rotation). */
  count: number;
  entries: StaticKeyEntry[];
}

export interface ImageVerification {
  imageReferences: string[];
  type: 'Cosign';
  mutateDigest: boolean;
  verifyDigest: boolean;
  required: boolean;
  attestors?: AttestorSet[];
  attestations?: Array<{ type: string; attestors: AttestorSet[] }>;
}

export interface ClusterPolicyRule {
  name: string;
  match: { any: Array<{ resources: { kinds: string[]; namespaces: string[] } }> };
  validate?: { message: string; pattern: { spec: Record<string, Array<{ image: string }>> } };
  verifyImages?: ImageVerification[];
}

/** kyverno.io/v1 ClusterPolicy (deprecated since Kyverno 1.17). */
export interface ClusterPolicy {
  apiVersion: typeof CLUSTER_POLICY_API_VERSION;
  kind: 'ClusterPolicy';
  metadata: Metadata;
  spec: {
    validationFailureAction: 'Enforce' | 'Audit';
    background: boolean;
    failurePolicy: 'Fail';
    webhookTimeoutSeconds: number;
    rules: ClusterPolicyRule[];
  };
}

export type AdmissionObject = ValidatingPolicy | ImageValidatingPolicy | ClusterPolicy;

