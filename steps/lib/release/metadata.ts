import { z } from 'zod';

/**
 * What a release says about itself: the config blob of its Release OCI image. The plugin checks
 * the resources layer it pulls against `resources.digest`; people read the rest (`crane config`).
 */
const sha = z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-character commit SHA');
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be a sha256 digest');

export const releaseMetadataSchema = z.object({
  apiVersion: z.literal('forge.projectcatalyst.io/v1'),
  kind: z.literal('ReleaseMetadata'),
  repository: z.string().min(1).max(255),
  project: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a project name'),
  release: z.object({
    number: z.number().int().min(1),
    aliases: z.object({ numeric: z.string(), tag: z.string().optional(), branch: z.string().optional() }),
    trigger: z.enum(['branch', 'tag', 'manual']),
  }),
  source: z.object({ repositoryUrl: z.string().min(1), commit: sha, branch: z.string().optional(), tag: z.string().optional() }),
  artifacts: z.array(z.object({ name: z.string().min(1), trackingUri: z.string().min(1), digest })),
  resources: z.object({ digest, files: z.number().int().min(0) }),
  createdAt: z.string(),
});
export type ReleaseMetadata = z.infer<typeof releaseMetadataSchema>;
