import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { digestOf, exists } from '../crane.ts';
import { ForgeError } from '../errors.ts';
import { isPlainHttpRegistry, runTool } from '../exec.ts';
import { parseReference } from '../reference.ts';
import { LAYER_TYPE_ANNOTATION, OCI_ANNOTATIONS, OCI_EMPTY } from './media-types.ts';
import { manifestOf, pushArtifact } from './oci-push.ts';
import { sha256 } from './resources-layer.ts';

/**
 * The `oci` publisher: a container artifact (the OCI image layout its producer wrote) pushed as it
 * is, and a binary or archive pushed as an OCI artifact (one layer, os/arch/format annotations).
 * Idempotent by digest: a tag that already holds the same digest is reused, one that holds another
 * digest is an error — a published artifact is never replaced.
 */
export const BINARY_ARTIFACT = 'application/vnd.forge.artifact.binary.v1';
export const ARCHIVE_ARTIFACT = 'application/vnd.forge.artifact.archive.v1';

export const fileArtifactSchema = z.object({
  type: z.enum(['binary', 'archive']),
  os: z.string().regex(/^[a-z0-9]+$/, 'must be an OS name such as linux'),
  arch: z.string().regex(/^[a-z0-9_]+$/, 'must be an architecture such as amd64'),
  /** Archives: tar.gz, zip, …; binaries: none. */
  format: z.string().regex(/^[a-z0-9.]+$/).optional(),
});
export type FileArtifact = z.infer<typeof fileArtifactSchema>;

export interface Published {
  /** `<repository>@<digest>`: what deployment resources and tracking images name. */
  uri: string;
  digest: string;
  /** The tag already held this digest: nothing was pushed. */
  reused: boolean;
}

/** Publishes a binary or archive file as an OCI artifact under `reference` (`<repository>:<tag>`). */
export async function publishFile(reference: string, file: string, meta: FileArtifact): Promise<Published> {
  const m = fileArtifactSchema.parse(meta);
  const bytes = await readFile(file);
  const artifact = {
    artifactType: m.type === 'binary' ? BINARY_ARTIFACT : ARCHIVE_ARTIFACT,
    config: { mediaType: OCI_EMPTY, bytes: Buffer.from('{}') },
    layers: [{
      mediaType: m.type === 'binary' ? 'application/octet-stream' : `application/vnd.forge.archive.${m.format ?? 'tar.gz'}`,
      bytes,
      annotations: { [OCI_ANNOTATIONS.title]: basename(file), [LAYER_TYPE_ANNOTATION]: m.type, 'org.catalyst-forge.os': m.os, 'org.catalyst-forge.arch': m.arch, ...(m.format ? { 'org.catalyst-forge.format': m.format } : {}) },
    }],
    annotations: {},
  };
  const digest = sha256(Buffer.from(manifestOf(artifact)));
  return publishOnce(reference, digest, () => pushArtifact(repositoryOf(reference), [tagOf(reference)], artifact).then(() => undefined));
}

/** Publishes the image in an OCI image layout (its producer's output) under `reference`. */
export async function publishImageLayout(reference: string, layout: string): Promise<Published> {
  const index = z.object({ manifests: z.array(z.object({ digest: z.string() })).min(1) }).safeParse(JSON.parse(await readFile(join(layout, 'index.json'), 'utf8').catch(() => 'null')));
  if (!index.success || index.data.manifests.length !== 1) throw new ForgeError('INVALID_ARGS', `${layout}: not an OCI image layout holding one image (index.json with one manifest)`);
  const digest = index.data.manifests[0]!.digest;
  return publishOnce(reference, digest, async () => {
    await runTool('crane', ['push', ...(isPlainHttpRegistry(reference) ? ['--insecure'] : []), layout, reference]);
  });
}

async function publishOnce(reference: string, digest: string, push: () => Promise<void>): Promise<Published> {
  const uri = `${repositoryOf(reference)}@${digest}`;
  if (await exists(reference)) {
    const held = await digestOf(reference);
    if (held !== digest) throw new ForgeError('COPY_FAILED', `${reference} already holds ${held}, not this artifact's ${digest}: a published artifact is never replaced (rebuild under a new tag)`);
    return { uri, digest, reused: true };
  }
  await push();
  const pushed = await digestOf(reference);
  if (pushed !== digest) throw new ForgeError('COPY_FAILED', `${reference} resolved to ${pushed} after the push, not ${digest}`);
  return { uri, digest, reused: false };
}

function parts(reference: string): { repository: string; tag: string } {
  const r = parseReference(reference);
  if (!r.tag || r.digest) throw new ForgeError('INVALID_ARGS', `${reference}: publish to <repository>:<tag>`);
  return { repository: r.repository, tag: r.tag };
}
const repositoryOf = (reference: string) => parts(reference).repository;
const tagOf = (reference: string) => parts(reference).tag;
