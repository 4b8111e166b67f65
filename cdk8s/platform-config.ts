import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { ForgeError } from '../steps/lib/errors.ts';
import { kmsUri, promotionSettingsSchema, verificationKeySchema } from '../steps/lib/promotion-settings.ts';
import { admissionSchema } from './platform-config-admission.ts';
import { githubSchema } from './platform-config-github.ts';
import { releaseSchema } from './platform-config-release.ts';
import { annotations, dnsLabel, imageSchema, registryHost, resources } from './platform-config-primitives.ts';
import { checkPromotionMatchesAdmission } from './platform-config-agreement.ts';
import { poolsSchema } from './platform-config-pools.ts';

/**
 * The platform configuration: everything a platform team sets when it installs forge-workflows.
 * Every field is documented here and in docs/platform-config.md; `npm run synth` refuses a file
 * that does not match, naming the field.
 */
export const platformConfigSchema = z.strictObject({
  /** Namespace the WorkflowTemplates, service accounts and workflows live in. */
  namespace: dnsLabel,
  images: z.strictObject({
    /** The step-tool image (every `forge <command>` step runs it, and the pool workers). */
    steps: imageSchema,
    /** The NATS server of the pools (when `pools.nats.deploy`); pin a digest in production. */
    nats: imageSchema.default({ repository: 'docker.io/library/nats', tag: '2.11-alpine' }),
  }),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  registries: z
    .strictObject({
      /** Where developers and CI push images (quarantine). */
      incoming: registryHost,
      /** Only verify-and-promote writes here; clusters admit images from here only. */
      trusted: registryHost,
      /** Artifact tracking images (`<tracking>/<repo>/<project>/<artifact>:sha-<commit>`). */
      tracking: registryHost,
      /** Release OCI images (`<release>/<repo>/<project>:sha-<commit>`). */
      release: registryHost,
      /**
       * A `kubernetes.io/dockerconfigjson` Secret with the credentials the supply-chain steps use
       * for these registries (crane, oras and cosign read it through DOCKER_CONFIG).
       */
      credentialsSecret: dnsLabel.optional(),
      /**
       * Registries reached over plain HTTP (`host[:port]`), for test clusters only; loopback ones
       * always are. Passed to the steps as FORGE_INSECURE_REGISTRIES.
       */
      insecure: z.array(z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?$/, 'must be host[:port]')).default([]),
    })
    .refine((r) => r.incoming !== r.trusted, { message: 'incoming and trusted registries must differ', path: ['trusted'] }),
  pipeline: z
    .strictObject({
      /** Phase-group slots of forge-pipeline (a repository may define at most this many groups). */
      phaseGroupSlots: z.number().int().min(1).max(20).default(6),
      /** Most pods of one workflow running at once. */
      parallelism: z.number().int().min(1).max(1000).default(100),
      /** Hard deadline of a whole pipeline run, seconds (24 h). */
      activeDeadlineSeconds: z.number().int().min(60).max(7 * 86400).default(86400),
      /** Deadline of discovery, seconds. */
      discoveryTimeoutSeconds: z.number().int().min(30).max(3600).default(600),
    })
    .prefault({}),
  /** Hot worker pools: NATS JetStream, the dispatchers and each pool's workers (platform-config-pools.ts). */
  pools: poolsSchema,
  /**
   * Artifact repository for full reports (discovery JSON, scan reports), by reference to the
   * ConfigMap Argo reads. Without it the pipeline runs on parameters alone.
   */
  artifactRepositoryRef: z.strictObject({ configMap: dnsLabel, key: z.string().min(1) }).optional(),
  steps: z
    .strictObject({
      /** Requests and limits of a step pod (dispatchers and light tools). */
      resources: resources.default({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } }),
      /** Numeric user and group every step container runs as (never 0). */
      runAsUser: z.number().int().min(1).default(65532),
    })
    .prefault({}),
  /** Service account names (created by the RBAC chart). */
  serviceAccounts: z
    .strictObject({
      /** Runs workflow pods: may only report task results. */
      workflow: dnsLabel.default('forge-workflow'),
      /** Used by GitHub Actions / the forge CLI to submit and watch workflows. */
      submitter: dnsLabel.default('forge-submitter'),
      /** Runs only the `attest` pod of verify-and-promote: the one identity that may use the promotion key. */
      promotionSigner: dnsLabel.default('forge-promotion-signer'),
      /**
       * Runs only the `verify` pod: the one identity that may read verification keys kept in the
       * cluster (`secret`/`configMap` keys, public only) or reach KMS public keys.
       */
      signatureVerifier: dnsLabel.default('forge-signature-verifier'),
      /**
       * Annotations of the accounts, for a cloud identity that reaches KMS keys: GKE Workload
       * Identity (`iam.gke.io/gcp-service-account`), EKS IRSA (`eks.amazonaws.com/role-arn`), …
       */
      annotations: z
        .strictObject({
          /** The workflow pods' account (resolve, scan, policy, copy, record). */
          workflow: annotations,
          /** Needs to read KMS public keys (`verificationKeys` with `kms`) for `verify`. */
          signatureVerifier: annotations,
          /** Needs to sign with the KMS promotion key (`attestationSigningKey.kms`) and read its public key. */
          promotionSigner: annotations,
        })
        .prefault({}),
    })
    .refine(
      (a) => new Set([a.workflow, a.submitter, a.promotionSigner, a.signatureVerifier]).size === 4,
      'workflow, submitter, promotionSigner and signatureVerifier must be different accounts',
    )
    .prefault({}),
  /**
   * Argo Workflows' controller (cdk8s/charts/argo-controller.ts, docs/installing.md): the settings
   * the library relies on (`templateReferencing: Secure`, the executor's resources and security
   * context), generated as its ConfigMap, and the Kyverno rule on Workflows and CronWorkflows that
   * controllers older than 3.7.14 / 4.0.5 / 4.1.0 need (cdk8s/charts/workflow-admission.ts).
   */
  argo: z
    .strictObject({
      /** Namespace of the workflow-controller, where its ConfigMap is generated. */
      controllerNamespace: dnsLabel.default('argo'),
      /** Name of the controller's ConfigMap (its `--configmap` flag; Argo's default). */
      controllerConfigMap: dnsLabel.default('workflow-controller-configmap'),
      /** Requests and limits of Argo's `init` and `wait` containers in every workflow pod. */
      executorResources: resources.default({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } }),
      /**
       * The admission rule on Workflows and CronWorkflows in `namespace`: only the fields a fixed
       * controller allows, and a `workflowTemplateRef` naming one of the library's templates.
       * Needed while the controller is older than 3.7.14 / 4.0.5 / 4.1.0; without it none is generated.
       */
      workflowAdmission: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** `ValidatingPolicy` (policies.kyverno.io/v1, Kyverno ≥ 1.17) or `ClusterPolicy` (kyverno.io/v1, Kyverno 1.11–1.19). */
          kind: z.enum(['ValidatingPolicy', 'ClusterPolicy']).default('ValidatingPolicy'),
          /** `Enforce` denies; `Audit` admits, reports and warns the client. */
          mode: z.enum(['Enforce', 'Audit']).default('Enforce'),
        })
        .optional(),
    })
    .prefault({}),
  /** The Kyverno admission policy (cdk8s/platform-config-admission.ts); without it none is generated. */
  admission: admissionSchema.optional(),
  /**
   * verify-and-promote (docs/verify-and-promote.md): named keys and policies submitters choose
   * from, shipped to the step pods as a ConfigMap, plus where the promotion key and the records
   * database credentials live. Without this section no forge-verify-and-promote is generated.
   */
  promotion: promotionSettingsSchema
    .extend({
      /** The private key that signs promotion attestations: a Secret (cosign.key, cosign.password) or a KMS URI. */
      attestationSigningKey: z.union([
        z.strictObject({
          secret: z.strictObject({ name: dnsLabel, key: z.string().default('cosign.key'), passwordKey: z.string().default('cosign.password') }),
        }),
        z.strictObject({ kms: kmsUri }),
      ]),
      /** PostgreSQL of the allowlist and audit trail: a Secret key holding its postgresql:// URL. */
      database: z.strictObject({ secret: z.strictObject({ name: dnsLabel, key: z.string().default('url') }) }),
      /** Deadline of one promotion, seconds (a large image takes a while to copy). */
      timeoutSeconds: z.number().int().min(60).max(6 * 3600).default(3600),
      /**
       * Required here: the identity that signs the vulnerability attestations the scan gate trusts
       * (a PEM public key, KMS URI, k8s:// Secret or keyless identity + issuer). The platform's
       * scanner, never a key submitters sign their images with.
       */
      scanner: verificationKeySchema,
    })
    .optional(),
  /** Releases and deployments (cdk8s/platform-config-release.ts, docs/releases.md); without it the pipeline ends after its last group. */
  release: releaseSchema.optional(),
  /** Commit statuses from forge-pipeline's exit handler (cdk8s/platform-config-github.ts); without it none are set. */
  github: githubSchema.optional(),
}).superRefine(checkPromotionMatchesAdmission);


export type PlatformConfig = z.infer<typeof platformConfigSchema>;
export type PromotionConfig = NonNullable<PlatformConfig['promotion']>;
export type ImageRef = z.infer<typeof imageSchema>;
export type AdmissionConfig = NonNullable<PlatformConfig['admission']>;
export type WorkflowAdmissionConfig = NonNullable<PlatformConfig['argo']['workflowAdmission']>;
export type VerificationKey = AdmissionConfig['signingKey'];

/** `repo@sha256:…` when a digest is pinned, else `repo:tag`. */
export function imageReference(image: ImageRef): string {
  return image.digest ? `${image.repository}@${image.digest}` : `${image.repository}:${image.tag}`;
}

/** Validates a parsed configuration; errors name the file and every bad field. */
export function parsePlatformConfig(value: unknown, file = '<platform config>'): PlatformConfig {
  const result = platformConfigSchema.safeParse(value);
  if (!result.success) {
    throw new ForgeError(
      'INVALID_CONFIG',
      `invalid platform configuration ${file}`,
      result.error.issues.map((i) => ({ file, field: i.path.join('.') || '(root)', message: i.message })),
    );
  }
  return result.data;
}

export async function loadPlatformConfig(file: string): Promise<PlatformConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ForgeError('INVALID_CONFIG', `cannot read platform configuration ${file}: ${(cause as Error).message}`, [], { cause });
  }
  let value: unknown;
  try {
    value = parse(text, { prettyErrors: true });
  } catch (cause) {
    throw new ForgeError('INVALID_CONFIG', `platform configuration ${file} is not valid YAML`, [{ file, message: (cause as Error).message.split('\n')[0]! }], { cause });
  }
  return parsePlatformConfig(value, file);
}
