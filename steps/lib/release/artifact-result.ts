import { z } from 'zod';

/**
 * What one artifact job of a release hands on (the artifact pool's result, `artifact.json`): the
 * artifact's primary published location, every publisher's outputs and the tracking image. The
 * release job reads it from the job bucket — written by a worker, never by a submitter — and
 * turns it into `forge.artifacts["<name>"]` for rendering and the release metadata's artifact list.
 */
const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a forge name');
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be a sha256 digest');
/** Output values are strings: they are injected into CUE as string literals. */
const outputs = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a lower-case output name'), z.string().max(4096));

export const artifactResultSchema = z.strictObject({
  name,
  type: z.enum(['container', 'binary', 'archive']),
  /** The primary published location (`<repository>@<digest>` for OCI), the first publisher by name. */
  uri: z.string().min(1).max(2048),
  digest,
  /** What the producer reported: container `digest, size`; binary `digest, size, os, arch`; archive `digest, size, format`. */
  producer: outputs,
  /** Publisher name → its outputs (docker: `uri, registry, namespace, repository, tag, digest`; github: `uri, release_url, asset_name, download_url`). */
  publishers: z.record(name, outputs),
  tracking: z.strictObject({ uri: z.string().min(1).max(2048), digest }),
});
export type ArtifactResult = z.infer<typeof artifactResultSchema>;
