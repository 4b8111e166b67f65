import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildImageWithFiles } from '../../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../../test/helpers/registry.ts';
import { generateKeyPair, verifyImage } from '../cosign.ts';
import { blobOf, digestOf, manifestOf } from '../crane.ts';
import { runTool } from '../exec.ts';
import { ARTIFACT_METADATA, IN_TOTO, LAYER_TYPE_ANNOTATION, SYFT_SBOM } from './media-types.ts';
import { pushTracking, type TrackingInput } from './tracking-image.ts';

// The tracking image of a container artifact, with a real syft SBOM of the image layout the
// producer wrote, a SLSA provenance statement, and a cosign signature; never replaced.
let registry: Registry;
let tmp: string;
let keys: { privateKey: string; publicKey: string };
const commit = 'd'.repeat(40);

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-tracking-'));
  await mkdir(join(tmp, 'keys'));
  keys = await generateKeyPair(join(tmp, 'keys'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('pushTracking', () => {
  test('three layers by media type, an SBOM of what is in the artifact, signed; a second push keeps the first', async () => {
    // The producer's output: an image with an npm package in it, as an OCI image layout.
    const image = `${registry.host}/incoming/acme/api-server:build`;
    await buildImageWithFiles(image, [{ 'app/node_modules/left-pad/package.json': JSON.stringify({ name: 'left-pad', version: '1.3.0' }), 'app/package.json': JSON.stringify({ name: 'api', version: '1.0.0', dependencies: { 'left-pad': '1.3.0' } }) }]);
    const layout = join(tmp, 'layout');
    await runTool('crane', ['pull', '--insecure', '--format', 'oci', image, layout]);
    const digest = await digestOf(image);
    const input: TrackingInput = {
      registry: `${registry.host}/tracking`, repository: 'acme/monorepo', project: 'api', artifact: 'api-server', type: 'container', commit,
      repositoryUrl: 'https://user:token@git.example.test/acme/monorepo.git', source: { kind: 'oci-dir', path: layout },
      uri: `${registry.host}/incoming/acme/api-server@${digest}`, digest, builder: 'https://forge-workflows.dev/pools/artifact',
      workflow: { name: 'forge-pipeline-x7k2p', uid: 'b0c4f6a7-1111-4c2e-9d1e-2b0c4f6a7e11' }, startedAt: '2026-11-29T12:00:00Z', finishedAt: '2026-11-29T12:03:00Z',
    };
    const pushed = await pushTracking(input, { key: keys.privateKey, transparencyLog: false });
    expect(pushed).toMatchObject({ reference: `${registry.host}/tracking/acme/monorepo/api/api-server:sha-${commit}`, created: true });

    const { manifest } = await manifestOf(pushed.reference);
    const layers = manifest.layers as { mediaType: string; digest: string; annotations: Record<string, string> }[];
    expect(layers.map((l) => [l.mediaType, l.annotations[LAYER_TYPE_ANNOTATION]])).toEqual([[ARTIFACT_METADATA, 'metadata'], [SYFT_SBOM, 'sbom'], [IN_TOTO, 'attestation']]);
    const repo = pushed.reference.slice(0, pushed.reference.lastIndexOf(':'));
    const blob = async (i: number) => JSON.parse(await blobOf(`${repo}@${layers[i]!.digest}`)) as Record<string, unknown>;
    expect(await blob(0)).toMatchObject({ kind: 'ArtifactMetadata', artifact: 'api-server', commit, digest });
    const sbom = (await blob(1)) as { artifacts: { name: string; version: string; type: string }[]; descriptor: { name: string } };
    expect(sbom.descriptor.name).toBe('syft');
    expect(sbom.artifacts).toContainEqual(expect.objectContaining({ name: 'left-pad', version: '1.3.0', type: 'npm' }));
    const statement = (await blob(2)) as { subject: unknown; predicateType: string; predicate: { buildDefinition: { resolvedDependencies: { uri: string }[] }; runDetails: unknown } };
    expect(statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://slsa.dev/provenance/v1', subject: [{ name: input.uri, digest: { sha256: digest.slice(7) } }] });
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual([{ uri: 'git+https://git.example.test/acme/monorepo.git', digest: { gitCommit: commit } }]);
    expect(JSON.stringify(statement)).not.toContain('token'); // credentials of the source URL never land in an image
    expect((await verifyImage(`${repo}@${pushed.digest}`, { key: keys.publicKey, transparencyLog: false })).digest).toBe(pushed.digest);

    // Immutable: pushing again (even with other times) keeps the first image.
    const again = await pushTracking({ ...input, finishedAt: '2026-11-30T00:00:00Z' }, { key: keys.privateKey, transparencyLog: false });
    expect(again).toEqual({ reference: pushed.reference, digest: pushed.digest, created: false });
  }, 180_000);
});
