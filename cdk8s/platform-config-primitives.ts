import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { kmsUri } from '../steps/lib/promotion-settings.ts';

/** The building blocks of the platform configuration's sections (cdk8s/platform-config*.ts). */
export const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, "-")')
  .max(63);

/** Kubernetes annotations: qualified names (`[prefix/]name`) to strings. */
export const annotations = z
  .record(
    z
      .string()
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
        'must be an annotation name: [prefix/]name, e.g. iam.gke.io/gcp-service-account',
      ),
    z.string(),
  )
  .default({});
export const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'must be a Kubernetes quantity such as "250m" or "512Mi"');
export const registryHost = z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, 'must be a registry host with an optional path, e.g. "registry.example.com/forge"');

export const resources = z.strictObject({
  requests: z.strictObject({ cpu: quantity, memory: quantity }),
  limits: z.strictObject({ cpu: quantity, memory: quantity }),
});

export const imageSchema = z
  .strictObject({
    /** Repository without tag, e.g. `registry.example.com/forge/steps`. */
    repository: registryHost,
    /** Tag of the image; `latest` is refused (a template must pin what it runs). */
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/)
      .refine((t) => t !== 'latest', 'the tag "latest" is not allowed: pin a version or a digest')
      .optional(),
    /** Digest, preferred over the tag when both are set (`sha256:<64 hex>`). */
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" and 64 hexadecimal digits').optional(),
  })
  .refine((i) => i.tag || i.digest, 'set a tag or a digest');

/** A namespace name or a glob over names (`*`, `?`), as Kyverno matches them. */
export const namespaceGlob = z
  .string()
  .regex(/^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$/, 'must be a namespace name or a glob of one ("*", "?"), e.g. "project-*"')
  .max(63);

function isPublicKeyPem(pem: string): boolean {
  if (!/^-----BEGIN PUBLIC KEY-----\r?\n[\s\S]+\n-----END PUBLIC KEY-----$/.test(pem)) return false;
  try {
    return createPublicKey(pem).type === 'public';
  } catch {
    return false;
  }
}

/** A cosign verification key: a PEM public key inline, or a KMS URI (exactly one of the two). */
export const verificationKey = z
  .strictObject({
    /** PEM public key (`-----BEGIN PUBLIC KEY-----` …), e.g. the `cosign.pub` of `cosign generate-key-pair`. */
    publicKey: z.string().trim().refine(isPublicKeyPem, 'must be one PEM public key ("-----BEGIN PUBLIC KEY-----" … "-----END PUBLIC KEY-----")').optional(),
    /** KMS key URI as cosign and Kyverno take it: `gcpkms://`, `awskms://`, `azurekms://` or `hashivault://`. */
    kms: kmsUri.optional(),
  })
  .refine((k) => !(k.publicKey !== undefined && k.kms !== undefined), 'set publicKey or kms, not both')
  .refine((k) => k.publicKey !== undefined || k.kms !== undefined, 'set publicKey (a PEM public key) or kms (a KMS URI)');
