/**
 * The media types and annotations of forge's OCI objects (DESIGN.md "Releases"), written once:
 * the release step writes them, the Argo CD plugin and the readers look layers up by them.
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** The Release OCI image's config blob and artifactType: the release metadata JSON. */
export const RELEASE_METADATA = 'application/vnd.forge.release.metadata.v1+json';

/** Its one layer: the rendered Kubernetes resources as a gzip tar of YAML files (a standard type, so Argo CD's and Flux's OCI sources read it too). */
export const RESOURCES_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Resource layer types of the seed's older release images, still read (never written). */
export const LEGACY_RESOURCES_LAYERS = ['application/vnd.forge.release.resources.v1+tar', 'application/vnd.forge.resources.v1.tar+gzip'] as const;

/** Which part of a forge image a layer is (`resources`, `metadata`, `sbom`, `provenance`). */
export const LAYER_TYPE_ANNOTATION = 'org.catalyst-forge.layer.type';

export const OCI_ANNOTATIONS = {
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  created: 'org.opencontainers.image.created',
  version: 'org.opencontainers.image.version',
  title: 'org.opencontainers.image.title',
} as const;

/** The tracking image of an artifact (seed 001): its metadata, an SBOM by syft, an in-toto provenance statement. */
export const ARTIFACT_METADATA = 'application/vnd.forge.artifact.metadata.v1+json';
export const SYFT_SBOM = 'application/vnd.syft+json';
export const IN_TOTO = 'application/vnd.in-toto+json';
/** The empty config of an artifact that is not a runnable image. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
