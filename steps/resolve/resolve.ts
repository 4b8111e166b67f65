import { configOf, digestOf, isIndex, manifestOf, type Descriptor, type Manifest } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import type { PlatformImage, ResolvedImage } from '../lib/image-info.ts';
import { lookupNamedUser } from '../lib/image-passwd.ts';
import { parseImageReference, parseRegistryPrefix, pathBelow } from '../lib/reference.ts';

/**
 * Resolves a reference to its digest once; everything later uses `repository@digest`, so a tag
 * moved during the run cannot change what is verified and promoted. For an index every child
 * manifest is resolved and checked too: only genuine attestation manifests are left out (see
 * `assertGenuineAttestation`), so nothing reaches the trusted registry unchecked.
 */
export async function resolveImage(requested: string): Promise<ResolvedImage> {
  const { repository, digest: pinned } = parseImageReference(requested);
  const digest = await digestOf(requested);
  // The registry answers a digest reference with that digest's manifest (content addressing), so
  // this never fires against a real registry; it keeps a broken one from changing what is promoted.
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent against a real registry
  if (pinned && pinned !== digest) throw new ForgeError('TOOL_FAILED', `${requested} resolved to ${digest}, not the digest it names`);
  const reference = `${repository}@${digest}`;
  const { manifest } = await manifestOf(reference);
  const index = isIndex(manifest);
  const platforms = index ? await indexImages(repository, manifest) : [await platformImage(reference, digest, 'default', manifest)];
  if (index && platforms.length === 0) throw new ForgeError('POLICY_VIOLATION', `${requested} is an index with no image manifests: nothing to promote`);
  return { requested, repository, digest, reference, mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', index, platforms };
}

const IN_TOTO_LAYER = 'application/vnd.in-toto+json';
/** Config media types of runnable images (OCI and Docker v2): what the user and size checks read. */
const IMAGE_CONFIGS = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** Every child of an index, checked as an image, except genuine attestation manifests. */
async function indexImages(repository: string, index: Manifest): Promise<PlatformImage[]> {
  const children = index.manifests ?? [];
  const siblings = new Set(children.map((d) => d.digest));
  const images = await Promise.all(
    children.map(async (d) => {
      const reference = `${repository}@${d.digest}`;
      const { manifest } = await manifestOf(reference);
      if (claimsAttestation(d)) {
        assertGenuineAttestation(reference, d, manifest, siblings);
        return undefined;
      }
      return platformImage(reference, d.digest, platformName(d.platform), manifest);
    }),
  );
  return images.filter((i): i is PlatformImage => i !== undefined);
}

/** BuildKit marks its provenance/SBOM manifests with this annotation (and platform unknown/unknown). */
function claimsAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

/**
 * A child is skipped only when it cannot run: every layer an in-toto statement, describing a
 * sibling image of the same index. A platform or an annotation alone proves nothing — anyone can
 * label a runnable image `unknown/unknown`.
 */
function assertGenuineAttestation(reference: string, d: Descriptor, manifest: Manifest, siblings: Set<string>): void {
  const described = d.annotations?.['vnd.docker.reference.digest'];
  const layers = manifest.layers ?? [];
  const why =
    isIndex(manifest) ? 'it is an index'
    : layers.length === 0 ? 'it has no layers'
    : layers.some((l) => l.mediaType !== IN_TOTO_LAYER) ? `it has layers that are not ${IN_TOTO_LAYER}`
    : described === undefined || described === d.digest || !siblings.has(described) ? 'vnd.docker.reference.digest does not name another manifest of the index'
    : undefined;
  if (why) throw new ForgeError('POLICY_VIOLATION', `${reference} is annotated as an attestation manifest, but ${why}: refusing an index child that would be copied unchecked`);
}

async function platformImage(reference: string, digest: string, platform: string, manifest: Manifest): Promise<PlatformImage> {
  if (isIndex(manifest)) throw new ForgeError('POLICY_VIOLATION', `${reference} (${platform}) is a nested index: only one level of platform images is checked, so it is not promoted`);
  if (!manifest.config) throw new ForgeError('POLICY_VIOLATION', `${reference} (${platform}) is not an image manifest (no config): it cannot be checked, so it is not promoted`);
  if (!IMAGE_CONFIGS.has(manifest.config.mediaType)) {
    throw new ForgeError('POLICY_VIOLATION', `${reference} (${platform}) is not a container image (config ${manifest.config.mediaType}): it cannot be checked, so it is not promoted`);
  }
  const compressedSize = manifest.config.size + (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
  const config = await configOf(reference);
  const user = config.config?.User ?? '';
  const lookup = await lookupNamedUser(reference, user, manifest.layers ?? []);
  return { platform, digest, compressedSize, user, ...(lookup ? { userLookup: lookup } : {}) };
}


function platformName(p: { os: string; architecture: string; variant?: string } | undefined): string {
  if (!p) return 'default';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * Maps `<incoming>/<path>` to `<trusted>/<path>`, comparing parsed components (so `..`, empty
 * components, look-alike prefixes such as `incoming-evil/…` and other hosts are refused). Pure:
 * callers check it before any registry is contacted.
 */
export function trustedRepositoryFor(reference: string, config: { incoming: string; trusted: string }): string {
  const ref = parseImageReference(reference);
  const below = pathBelow(ref, parseRegistryPrefix(config.incoming));
  if (!below) {
    throw new ForgeError('POLICY_VIOLATION', `${ref.repository} is not in the incoming registry ${config.incoming}: only images pushed there are promoted`);
  }
  const trusted = parseRegistryPrefix(config.trusted);
  return [trusted.registry, ...trusted.path, ...below].join('/');
}
