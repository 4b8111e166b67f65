import { configOf, digestOf, isIndex, manifestOf, type Manifest } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import { parseReference } from '../lib/reference.ts';

/** One runnable image of a (possibly multi-platform) reference. */
export interface PlatformImage {
  /** `linux/amd64`, or `default` for a single-platform image. */
  platform: string;
  digest: string;
  /** Config + layers as the manifest declares them (what a node pulls). */
  compressedSize: number;
  /** The image config's User (empty when unset, which means root). */
  user: string;
}

export interface ResolvedImage {
  /** The reference as it was asked for (may carry a tag). */
  requested: string;
  repository: string;
  digest: string;
  /** `repository@digest`: the only form used after resolution. */
  reference: string;
  mediaType: string;
  index: boolean;
  platforms: PlatformImage[];
}

const ATTESTATION_PLATFORM = 'unknown/unknown';

/**
 * Resolves a reference to its digest once; everything later uses `repository@digest`, so a tag
 * moved during the run cannot change what is verified and promoted. For an index every platform
 * manifest is resolved too (attestation entries `unknown/unknown` excepted).
 */
export async function resolveImage(requested: string): Promise<ResolvedImage> {
  const { repository, digest: pinned } = parseReference(requested);
  if (!repository.includes('/')) {
    throw new ForgeError('INVALID_ARGS', `"${requested}" is not a full image reference: give <registry>/<repository>[:tag|@digest]`);
  }
  const digest = await digestOf(requested);
  if (pinned && pinned !== digest) throw new ForgeError('TOOL_FAILED', `${requested} resolved to ${digest}, not the digest it names`);
  const reference = `${repository}@${digest}`;
  const { manifest } = await manifestOf(reference);
  const index = isIndex(manifest);
  const platforms = index
    ? await Promise.all(
        (manifest.manifests ?? [])
          .filter((d) => platformName(d.platform) !== ATTESTATION_PLATFORM)
          .map(async (d) => platformImage(`${repository}@${d.digest}`, d.digest, platformName(d.platform))),
      )
    : [await platformImage(reference, digest, 'default', manifest)];
  return { requested, repository, digest, reference, mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', index, platforms };
}

async function platformImage(reference: string, digest: string, platform: string, known?: Manifest): Promise<PlatformImage> {
  const manifest = known ?? (await manifestOf(reference)).manifest;
  if (isIndex(manifest)) throw new ForgeError('TOOL_FAILED', `${reference} is a nested index; only one level of platforms is supported`);
  if (!manifest.config) throw new ForgeError('TOOL_FAILED', `${reference} is not an image manifest (no config)`);
  const compressedSize = manifest.config.size + (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
  const config = await configOf(reference);
  return { platform, digest, compressedSize, user: config.config?.User ?? '' };
}

function platformName(p: { os: string; architecture: string; variant?: string } | undefined): string {
  if (!p) return 'default';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Maps `<incoming>/<path>` to `<trusted>/<path>`; anything else is refused. */
export function trustedRepositoryFor(repository: string, config: { incoming: string; trusted: string }): string {
  const prefix = `${config.incoming.replace(/\/$/, '')}/`;
  if (!repository.startsWith(prefix)) {
    throw new ForgeError('POLICY_VIOLATION', `${repository} is not in the incoming registry ${config.incoming}: only images pushed there are promoted`);
  }
  return `${config.trusted.replace(/\/$/, '')}/${repository.slice(prefix.length)}`;
}
