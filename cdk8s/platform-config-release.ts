import { z } from 'zod';
import { environmentsSchema } from '../steps/lib/release/environment-policy.ts';
import { dnsLabel, verificationKey } from './platform-config-primitives.ts';
import { argocdSchema, checkArgocd } from './platform-config-argocd.ts';

/**
 * The `release` section of the platform configuration (docs/releases.md): who signs what a
 * release produces, where release records and the GitOps pointers live, and the environments a
 * release may deploy to. Without it no forge-release or forge-deploy is generated and the
 * pipeline ends after its last phase group.
 */

/** A cosign private key kept in a Secret (`cosign generate-key-pair` output: cosign.key and its password). */
const secretKey = z.strictObject({
  secret: z.strictObject({ name: dnsLabel, key: z.string().default('cosign.key'), passwordKey: z.string().default('cosign.password') }),
});

const gitUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(u), 'must not carry credentials: put them in gitops.credentialsSecret');

export const releaseSchema = z.strictObject({
  /**
   * The build identity: signs every container artifact pushed to the incoming registry and every
   * tracking image (the artifact pool mounts it). Its public half belongs in
   * `promotion.verificationKeys`, so verify-and-promote accepts what releases build.
   */
  buildSigningKey: secretKey,
  /** Signs Release OCI images (the release pool mounts it). */
  releaseSigningKey: secretKey,
  /** The public half of `releaseSigningKey`: the Argo CD plugin refuses a release image it did not sign. */
  releaseVerificationKey: verificationKey,
  /** PostgreSQL of release numbers, aliases, approvals and deployments: a Secret key holding its postgresql:// URL. */
  database: z.strictObject({ secret: z.strictObject({ name: dnsLabel, key: z.string().default('url') }) }),
  /** The GitOps repository the pointers are committed to (`environments/<env>/<repository>/<project>/release.yaml`). */
  gitops: z.strictObject({
    /** Any URL git pushes to, without credentials. */
    url: gitUrl,
    branch: z.string().regex(/^[A-Za-z0-9._/-]+$/, 'must be a branch name').max(255).default('main'),
    /** A Secret with the release workers' git credentials (`.git-credentials` or an SSH key, as git reads them). */
    credentialsSecret: dnsLabel.optional(),
    /** Who the pointer commits are by (the deployer is named in the message and the pointer). */
    author: z.strictObject({ name: z.string().min(1).max(255), email: z.string().email() }).default({ name: 'forge-workflows', email: 'forge@forge.invalid' }),
  }),
  /** Environments and their promotion policies (reference §4.5); the defaults are dev, staging and production. */
  environments: environmentsSchema,
  /** The platform's base image producers may build on, passed to them as `FORGE_BASE_IMAGE` (the example's api image uses it). */
  baseImage: z.string().min(1).max(512).optional(),
  /** Deadline of one project's release (artifacts, promotion, release image, deployment), seconds. */
  timeoutSeconds: z.number().int().min(60).max(6 * 3600).default(3600),
  /** Argo CD: the forge plugin's sidecar and the Applications (cdk8s/platform-config-argocd.ts, docs/argocd.md). */
  argocd: argocdSchema.optional(),
}).superRefine(checkArgocd);
export type ReleaseConfig = z.infer<typeof releaseSchema>;
