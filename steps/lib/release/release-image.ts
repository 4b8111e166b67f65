import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { runTool } from '../exec.ts';
import { DIGEST_PATTERN, parseReference } from '../reference.ts';
import { LAYER_TYPE_ANNOTATION, LEGACY_RESOURCES_LAYERS, OCI_ANNOTATIONS, RELEASE_METADATA, RESOURCES_LAYER } from './media-types.ts';
import { plainHttpFlag, pushArtifact, type OciArtifact } from './oci-push.ts';
import { releaseMetadataSchema, type ReleaseMetadata } from './metadata.ts';
import { sha256, unpackResources, type ResourceFile, type UnpackLimits } from './resources-layer.ts';

/**
 * The Release OCI image `[release]/[repository]/[project]:<commit>` (DESIGN.md "Releases"): the
 * release metadata as the manifest's config, the resources as its one gzip tar layer. Written
 * reproducibly (oci-push.ts: the same release, the same digest); read by media type, never by
 * position, with every blob checked against its digest and size before it is used.
 */
export interface PushedRelease {
  digest: string;
  manifest: string;
}

/** The release image as an OCI artifact (its manifest is what a rerun pushes again, byte for byte). */
export function releaseArtifact(metadata: ReleaseMetadata, config: Uint8Array, layer: Uint8Array): OciArtifact {
  return {
    artifactType: RELEASE_METADATA,
    config: { mediaType: RELEASE_METADATA, bytes: config },
    layers: [{ mediaType: RESOURCES_LAYER, bytes: layer, annotations: { [LAYER_TYPE_ANNOTATION]: 'resources', [OCI_ANNOTATIONS.title]: 'resources.tar.gz' } }],
    annotations: {
      [OCI_ANNOTATIONS.source]: metadata.source.repositoryUrl,
      [OCI_ANNOTATIONS.revision]: metadata.source.commit,
      [OCI_ANNOTATIONS.created]: metadata.createdAt,
      [OCI_ANNOTATIONS.version]: String(metadata.release.number),
      [OCI_ANNOTATIONS.title]: `${metadata.repository}/${metadata.project}`,
    },
  };
}

/** Pushes the release image under `tags` (the commit first, then its aliases) of `repository`. */
export async function pushRelease(repository: string, tags: string[], metadata: ReleaseMetadata, layer: Uint8Array): Promise<PushedRelease> {
  const checked = releaseMetadataSchema.parse(metadata);
  if (checked.resources.digest !== sha256(layer)) throw new ForgeError('RELEASE_INVALID', `release metadata of ${repository}: resources.digest ${checked.resources.digest} is not the layer's ${sha256(layer)}`);
  return pushArtifact(repository, tags, releaseArtifact(checked, Buffer.from(JSON.stringify(checked)), layer));
}

const descriptor = z.object({ mediaType: z.string(), digest: z.string().regex(DIGEST_PATTERN), size: z.number().int().min(0), annotations: z.record(z.string(), z.string()).optional() });
const manifestSchema = z.object({ schemaVersion: z.literal(2), mediaType: z.string().optional(), artifactType: z.string().optional(), config: descriptor, layers: z.array(descriptor).max(16) });

export interface ReleaseImage {
  reference: string;
  digest: string;
  metadata: ReleaseMetadata;
  files: ResourceFile[];
}

/**
 * Reads a release image: its metadata (the config; or, in the seed's older images, a layer of
 * that type), its one resources layer (found by media type), checked against the metadata's
 * digest and unpacked under `limits`.
 */
export async function readRelease(reference: string, limits: UnpackLimits & { maxMetadataBytes?: number } = {}): Promise<ReleaseImage> {
  const refuse = (why: string) => new ForgeError('RELEASE_INVALID', `${reference}: ${why}`);
  const raw = (await runTool('oras', ['manifest', 'fetch', ...plainHttpFlag(reference), reference])).stdout;
  const parsed = manifestSchema.safeParse(safeJson(raw));
  if (!parsed.success) throw refuse(`not an OCI image manifest (${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')})`);
  const m = parsed.data;
  const metaDescriptor = m.config.mediaType === RELEASE_METADATA ? m.config : m.layers.find((l) => l.mediaType === RELEASE_METADATA);
  if (!metaDescriptor) throw refuse(`no release metadata (${RELEASE_METADATA}) as config or layer: not a release image`);
  const resources = m.layers.filter((l) => l.mediaType === RESOURCES_LAYER || (LEGACY_RESOURCES_LAYERS as readonly string[]).includes(l.mediaType));
  if (resources.length !== 1) throw refuse(`${resources.length} resources layers (${[RESOURCES_LAYER, ...LEGACY_RESOURCES_LAYERS].join(', ')}); a release has exactly one`);
  const layer = resources[0]!;
  const maxBytes = limits.maxBytes ?? 16 * 1024 * 1024;
  if (metaDescriptor.size > (limits.maxMetadataBytes ?? 1024 * 1024)) throw refuse(`release metadata of ${metaDescriptor.size} bytes is over the limit`);
  if (layer.size > maxBytes) throw refuse(`resources layer of ${layer.size} bytes is over the ${maxBytes}-byte limit`);

  const metaBytes = await fetchBlob(reference, metaDescriptor);
  const metadata = releaseMetadataSchema.safeParse(safeJson(metaBytes.toString('utf8')));
  if (!metadata.success) throw refuse(`invalid release metadata (${metadata.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  if (metadata.data.resources.digest !== layer.digest) throw refuse(`the resources layer ${layer.digest} is not the one its metadata names (${metadata.data.resources.digest})`);
  const files = await unpackResources(await fetchBlob(reference, layer), `${reference} layer ${layer.digest}`, { ...limits, maxBytes });
  return { reference, digest: sha256(Buffer.from(raw)), metadata: metadata.data, files };
}

/** A blob of `reference`'s repository, its size and digest checked here (the registry is not trusted). */
async function fetchBlob(reference: string, d: z.infer<typeof descriptor>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-release-blob-'));
  try {
    const out = join(dir, 'blob');
    await runTool('oras', ['blob', 'fetch', ...plainHttpFlag(reference), '--output', out, `${parseReference(reference).repository}@${d.digest}`]);
    const bytes = await readFile(out);
    if (bytes.length !== d.size || sha256(bytes) !== d.digest) throw new ForgeError('RELEASE_INVALID', `${reference}: blob ${d.digest} does not match its descriptor (${bytes.length} bytes, ${sha256(bytes)})`);
    return bytes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
