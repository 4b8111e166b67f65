import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startRegistry, type Registry } from '../../../test/helpers/registry.ts';
import { manifestOf } from '../crane.ts';
import { isForgeError } from '../errors.ts';
import { runTool } from '../exec.ts';
import { LAYER_TYPE_ANNOTATION, RELEASE_METADATA, RESOURCES_LAYER } from './media-types.ts';
import type { ReleaseMetadata } from './metadata.ts';
import { pushRelease, readRelease } from './release-image.ts';
import { packResources, sha256 } from './resources-layer.ts';

// The Release OCI image on a real registry with the real oras: written reproducibly, read by
// media type, and refused when its parts do not fit together.
let registry: Registry;
let tmp: string;
const commit = 'c0ffee'.padEnd(40, '0');

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-release-image-'));
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const files = [
  { name: 'api/deployment.yaml', content: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n' },
  { name: 'api/service.yaml', content: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n' },
];

function metadata(layerDigest: string, over: Partial<ReleaseMetadata> = {}): ReleaseMetadata {
  return {
    apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleaseMetadata', repository: 'acme/monorepo', project: 'api',
    release: { number: 3, aliases: { numeric: '3', tag: 'api/v1.2.0', branch: 'main-3' }, trigger: 'tag' },
    source: { repositoryUrl: 'https://git.example.test/acme/monorepo.git', commit, tag: 'api/v1.2.0' },
    artifacts: [{ name: 'api-server', trackingUri: 'tracking.example.test/acme/monorepo/api/api-server:sha-' + commit, digest: `sha256:${'a'.repeat(64)}` }],
    resources: { digest: layerDigest, files: 2 }, createdAt: '2026-11-29T12:00:00Z', ...over,
  };
}

/** Pushes hand-made blobs and manifest (as a hostile publisher could) and returns the reference. */
async function pushRaw(name: string, blobs: Buffer[], manifest: object): Promise<string> {
  const repo = `${registry.host}/bad/${name}`;
  for (const [i, b] of blobs.entries()) {
    await writeFile(join(tmp, `${name}-${i}`), b);
    await runTool('oras', ['blob', 'push', '--plain-http', `${repo}@${sha256(b)}`, join(tmp, `${name}-${i}`)]);
  }
  await writeFile(join(tmp, `${name}.json`), JSON.stringify(manifest));
  await runTool('oras', ['manifest', 'push', '--plain-http', '--media-type', 'application/vnd.oci.image.manifest.v1+json', `${repo}:${commit}`, join(tmp, `${name}.json`)]);
  return `${repo}:${commit}`;
}

const desc = (mediaType: string, b: Buffer, annotations?: Record<string, string>) => ({ mediaType, digest: sha256(b), size: b.length, ...(annotations ? { annotations } : {}) });

async function refusal(reference: string): Promise<string> {
  const e = await readRelease(reference).then(() => undefined, (err: unknown) => err);
  expect(isForgeError(e) && e.code, String(e)).toBe('RELEASE_INVALID');
  return (e as Error).message;
}

describe('Release OCI image', () => {
  test('pushed under the commit and its aliases, one digest, read back by media type', async () => {
    const layer = await packResources(files);
    const repo = `${registry.host}/release/acme/monorepo/api`;
    const pushed = await pushRelease(repo, [commit, '3', 'api-v1.2.0', 'main-3'], metadata(sha256(layer)), layer);
    const { manifest } = await manifestOf(`${repo}:${commit}`);
    expect(manifest).toMatchObject({
      mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: RELEASE_METADATA,
      config: { mediaType: RELEASE_METADATA },
      layers: [{ mediaType: RESOURCES_LAYER, digest: sha256(layer), annotations: { [LAYER_TYPE_ANNOTATION]: 'resources' } }],
      annotations: { 'org.opencontainers.image.revision': commit, 'org.opencontainers.image.version': '3', 'org.opencontainers.image.source': 'https://git.example.test/acme/monorepo.git' },
    });
    for (const tag of ['3', 'api-v1.2.0', 'main-3']) expect((await runTool('oras', ['resolve', '--plain-http', `${repo}:${tag}`])).stdout).toBe(pushed.digest);

    const read = await readRelease(`${repo}:${commit}`);
    expect(read.digest).toBe(pushed.digest);
    expect(read.files).toEqual(files);
    expect(read.metadata.release).toEqual({ number: 3, aliases: { numeric: '3', tag: 'api/v1.2.0', branch: 'main-3' }, trigger: 'tag' });

    // A rerun of the same release pushes the same bytes: the same digest, nothing new.
    expect((await pushRelease(repo, [commit], metadata(sha256(layer)), layer)).digest).toBe(pushed.digest);
  });

  test('metadata that names another layer is refused before anything is pushed', async () => {
    const layer = await packResources(files);
    const repo = `${registry.host}/release/acme/monorepo/web`;
    await expect(pushRelease(repo, [commit], metadata(`sha256:${'b'.repeat(64)}`), layer)).rejects.toThrow(/resources.digest sha256:b{64} is not the layer's/);
    expect((await runTool('oras', ['manifest', 'fetch', '--plain-http', `${repo}:${commit}`], { allowFailure: true })).exitCode).not.toBe(0);
  });

  test('hostile or broken images are refused, naming what is wrong', async () => {
    const layer = await packResources(files);
    const config = Buffer.from(JSON.stringify(metadata(sha256(layer))));
    const other = await packResources([{ name: 'evil.yaml', content: 'kind: ClusterRoleBinding\n' }]);
    // The layer swapped for another one: the metadata names the first.
    expect(await refusal(await pushRaw('swapped', [config, other], { schemaVersion: 2, config: desc(RELEASE_METADATA, config), layers: [desc(RESOURCES_LAYER, other)] })))
      .toMatch(/the resources layer sha256:[0-9a-f]{64} is not the one its metadata names/);
    // Two resources layers: which one would be deployed is not up to position.
    expect(await refusal(await pushRaw('two', [config, layer, other], { schemaVersion: 2, config: desc(RELEASE_METADATA, config), layers: [desc(RESOURCES_LAYER, layer), desc(RESOURCES_LAYER, other)] })))
      .toMatch(/2 resources layers .*a release has exactly one/);
    // An ordinary image is not a release.
    const imageConfig = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    expect(await refusal(await pushRaw('image', [imageConfig, layer], { schemaVersion: 2, config: desc('application/vnd.oci.image.config.v1+json', imageConfig), layers: [desc(RESOURCES_LAYER, layer)] })))
      .toMatch(/no release metadata \(application\/vnd.forge.release.metadata.v1\+json\) as config or layer/);
    // A descriptor that lies about the size.
    expect(await refusal(await pushRaw('size', [config, layer], { schemaVersion: 2, config: desc(RELEASE_METADATA, config), layers: [{ ...desc(RESOURCES_LAYER, layer), size: 17 * 1024 * 1024 }] })))
      .toMatch(/resources layer of 17825792 bytes is over the 16777216-byte limit/);
    // Metadata that is not release metadata.
    const junk = Buffer.from('{"kind":"Something"}');
    expect(await refusal(await pushRaw('junk', [junk, layer], { schemaVersion: 2, config: desc(RELEASE_METADATA, junk), layers: [desc(RESOURCES_LAYER, layer)] })))
      .toMatch(/invalid release metadata \(apiVersion: .*kind: /);
  });

  test("the seed's older layout (metadata as a layer, a plain-tar resources layer) is read", async () => {
    const plainTar = (await import('node:zlib')).gunzipSync(await packResources(files));
    const meta = Buffer.from(JSON.stringify(metadata(sha256(plainTar))));
    const empty = Buffer.from('{}');
    const ref = await pushRaw('legacy', [empty, meta, plainTar], {
      schemaVersion: 2, config: desc('application/vnd.oci.empty.v1+json', empty),
      layers: [desc(RELEASE_METADATA, meta, { [LAYER_TYPE_ANNOTATION]: 'metadata' }), desc('application/vnd.forge.release.resources.v1+tar', plainTar, { [LAYER_TYPE_ANNOTATION]: 'resources' })],
    });
    const read = await readRelease(ref);
    expect(read.files).toEqual(files);
    expect(read.metadata.project).toBe('api');
  });
});
