import { z } from 'zod';
import { signImage, type SignOptions } from '../cosign.ts';
import { digestOf, exists } from '../crane.ts';
import { ForgeError } from '../errors.ts';
import { runTool } from '../exec.ts';
import { redactUrl } from '../log.ts';
import { ARTIFACT_METADATA, IN_TOTO, LAYER_TYPE_ANNOTATION, OCI_ANNOTATIONS, OCI_EMPTY, SYFT_SBOM } from './media-types.ts';
import { pushArtifact } from './oci-push.ts';

/**
 * The tracking OCI image of one artifact, `[tracking]/[repository]/[project]/[artifact]:sha-<commit>`
 * (seed 001): three layers — the artifact's metadata, an SBOM made by the real `syft` from the
 * artifact itself, and an in-toto statement of SLSA provenance (source, commit, builder,
 * workflow) — signed with cosign. Tracking images are immutable: one that exists is kept.
 */
const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a forge name');

export const trackingInputSchema = z.object({
  /** `<registry>/<prefix>` of tracking images. */
  registry: z.string().min(1),
  repository: z.string().regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/, 'must be a lower-case repository path'),
  project: name,
  artifact: name,
  type: z.enum(['container', 'binary', 'archive']),
  commit: z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-character commit SHA'),
  repositoryUrl: z.string().min(1),
  /** What syft reads: an OCI image layout directory (a container), or the file itself. */
  source: z.object({ kind: z.enum(['oci-dir', 'file']), path: z.string().min(1) }),
  /** Where the artifact was published, and its digest. */
  uri: z.string().min(1),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be a sha256 digest'),
  builder: z.string().min(1),
  workflow: z.object({ name: z.string().min(1), uid: z.string().min(1) }),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type TrackingInput = z.infer<typeof trackingInputSchema>;

export const trackingReference = (i: Pick<TrackingInput, 'registry' | 'repository' | 'project' | 'artifact' | 'commit'>) =>
  `${i.registry.replace(/\/+$/, '')}/${i.repository}/${i.project}/${i.artifact}:sha-${i.commit}`;

export interface PushedTracking {
  reference: string;
  digest: string;
  /** False when the tracking image was already there (it is never replaced). */
  created: boolean;
}

export async function pushTracking(input: TrackingInput, sign: SignOptions): Promise<PushedTracking> {
  const parsed = trackingInputSchema.safeParse(input);
  if (!parsed.success) throw new ForgeError('INVALID_ARGS', 'invalid tracking image input', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  const t = parsed.data;
  const reference = trackingReference(t);
  if (await exists(reference)) return { reference, digest: await digestOf(reference), created: false };
  const sbom = (await runTool('syft', ['scan', `${t.source.kind}:${t.source.path}`, '--output', 'syft-json', '--quiet'], { timeoutMs: 600_000 })).stdout;
  const repository = reference.slice(0, reference.lastIndexOf(':'));
  const { digest } = await pushArtifact(repository, [`sha-${t.commit}`], {
    artifactType: ARTIFACT_METADATA,
    config: { mediaType: OCI_EMPTY, bytes: Buffer.from('{}') },
    layers: [
      { mediaType: ARTIFACT_METADATA, bytes: Buffer.from(JSON.stringify(metadata(t))), annotations: { [LAYER_TYPE_ANNOTATION]: 'metadata' } },
      { mediaType: SYFT_SBOM, bytes: Buffer.from(sbom), annotations: { [LAYER_TYPE_ANNOTATION]: 'sbom' } },
      { mediaType: IN_TOTO, bytes: Buffer.from(JSON.stringify(provenance(t))), annotations: { [LAYER_TYPE_ANNOTATION]: 'attestation' } },
    ],
    annotations: { [OCI_ANNOTATIONS.source]: redactUrl(t.repositoryUrl), [OCI_ANNOTATIONS.revision]: t.commit, [OCI_ANNOTATIONS.created]: t.finishedAt, [OCI_ANNOTATIONS.title]: `${t.project}/${t.artifact}` },
  });
  await signImage(`${repository}@${digest}`, sign);
  return { reference, digest, created: true };
}

function metadata(t: TrackingInput) {
  return {
    apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ArtifactMetadata',
    artifact: t.artifact, type: t.type, repository: t.repository, project: t.project, commit: t.commit,
    uri: t.uri, digest: t.digest, builtAt: t.finishedAt, workflow: t.workflow,
  };
}

/** An in-toto v1 statement with a SLSA v1 provenance predicate about the published artifact. */
export function provenance(t: TrackingInput) {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: t.uri, digest: { sha256: t.digest.slice('sha256:'.length) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://forge-workflows.dev/artifact/v1',
        externalParameters: { repository: redactUrl(t.repositoryUrl), commit: t.commit, project: t.project, artifact: t.artifact },
        resolvedDependencies: [{ uri: `git+${redactUrl(t.repositoryUrl)}`, digest: { gitCommit: t.commit } }],
      },
      runDetails: {
        builder: { id: t.builder },
        metadata: { invocationId: `${t.workflow.name}/${t.workflow.uid}`, startedOn: t.startedAt, finishedOn: t.finishedAt },
      },
    },
  };
}
