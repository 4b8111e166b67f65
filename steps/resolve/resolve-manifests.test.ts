import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { buildImage, buildImageWithFiles, describe as describeManifest, pushAttestationManifest, pushIndex } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { crane, manifestOf } from '../lib/crane.ts';
import { toolPath } from '../lib/tools.ts';
import { resolveImage, trustedRepositoryFor } from './resolve.ts';

/** What resolve reads from a real registry, field by field, and the manifests it refuses. */
let registry: Registry;
let work: string;
let counter = 0;
const repo = () => `${registry.host}/team/shape-${++counter}`;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-resolve-shapes-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Pushes `manifest` as it is (oras sends it byte for byte) under `reference`. */
async function pushManifest(reference: string, manifest: object, mediaType: string): Promise<string> {
  const file = join(await mkdtemp(join(work, 'm-')), 'manifest.json');
  await writeFile(file, JSON.stringify(manifest));
  await execa(toolPath('oras'), ['manifest', 'push', '--plain-http', '--media-type', mediaType, reference, file]);
  return (await crane(['digest', '--insecure', reference])).trim();
}

/** The compressed size the size check reads: config plus layers, from the manifest itself. */
async function sizeOf(reference: string): Promise<number> {
  const { manifest } = await manifestOf(reference);
  return manifest.config!.size + (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('resolveImage: the resolved image, field by field', () => {
  it('a single OCI image, by tag, by digest and by tag and digest', async () => {
    const r = repo();
    const digest = await buildImage(`${r}:1`, { user: '1000', layers: 2 });
    const expected = (requested: string) => ({
      requested,
      repository: r,
      digest,
      reference: `${r}@${digest}`,
      mediaType: OCI_MANIFEST,
      index: false,
      platforms: [{ platform: 'default', digest, compressedSize: expect.any(Number), user: '1000' }],
    });
    const byTag = await resolveImage(`${r}:1`);
    expect(byTag).toEqual(expected(`${r}:1`));
    expect(byTag.platforms[0]!.compressedSize).toBe(await sizeOf(`${r}@${digest}`));
    expect(byTag.platforms[0]!.compressedSize).toBeGreaterThan(400);
    expect(await resolveImage(`${r}@${digest}`)).toEqual(expected(`${r}@${digest}`));
    expect(await resolveImage(`${r}:1@${digest}`)).toEqual(expected(`${r}:1@${digest}`));
  });

  it('a named USER carries its lookup in the image; no USER is the empty string', async () => {
    const r = repo();
    await buildImageWithFiles(`${r}:1`, [{ 'etc/passwd': 'app:x:1000:1000::/home/app:/bin/sh\n' }], { user: 'app' });
    expect((await resolveImage(`${r}:1`)).platforms).toEqual([expect.objectContaining({ user: 'app', userLookup: { uid: '1000' } })]);
    await buildImageWithFiles(`${r}:2`, [{ 'etc/hostname': 'x\n' }]);
    const none = (await resolveImage(`${r}:2`)).platforms[0]!;
    expect(none.user).toBe('');
    expect(none).not.toHaveProperty('userLookup');
  });

  it('a Docker v2 image (crane append without a base) is read the same way', async () => {
    const r = repo();
    const dir = await mkdtemp(join(work, 'docker-'));
    await writeFile(join(dir, 'f'), 'x\n');
    await execa('tar', ['-C', dir, '-cf', join(dir, 'l.tar'), 'f']);
    await crane(['append', '--insecure', '-f', join(dir, 'l.tar'), '-t', `${r}:1`]);
    await crane(['mutate', '--insecure', '--user', '1000', `${r}:1`]);
    const resolved = await resolveImage(`${r}:1`);
    expect(resolved.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(resolved.platforms).toEqual([{ platform: 'default', digest: resolved.digest, compressedSize: await sizeOf(resolved.reference), user: '1000' }]);
  });

  it('an OCI manifest without a mediaType field is an OCI image manifest', async () => {
    const r = repo();
    const digest = await buildImage(`${r}:1`, { user: '1000' });
    const { manifest } = await manifestOf(`${r}@${digest}`);
    const bare: Record<string, unknown> = { ...manifest };
    delete bare.mediaType;
    const bareDigest = await pushManifest(`${r}:bare`, bare, OCI_MANIFEST);
    const resolved = await resolveImage(`${r}:bare`);
    expect(resolved).toMatchObject({ digest: bareDigest, mediaType: OCI_MANIFEST, index: false, platforms: [{ platform: 'default', user: '1000' }] });
  });

  it('an index: each child named by its platform (with variant), or "default" without one', async () => {
    const r = repo();
    const amd = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const arm = { ...(await describeManifest(`${r}@${await buildImage(`${r}:arm`, { user: '1001' })}`)), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } };
    const bare = await describeManifest(`${r}@${await buildImage(`${r}:bare`, { user: '1002' })}`);
    const digest = await pushIndex(`${r}:1`, [amd, arm as typeof amd, bare]);
    const resolved = await resolveImage(`${r}:1`);
    expect(resolved).toMatchObject({ digest, reference: `${r}@${digest}`, index: true, mediaType: 'application/vnd.oci.image.index.v1+json' });
    expect(resolved.platforms).toEqual([
      { platform: 'linux/amd64', digest: amd.digest, compressedSize: await sizeOf(`${r}@${amd.digest}`), user: '1000' },
      { platform: 'linux/arm/v7', digest: arm.digest, compressedSize: await sizeOf(`${r}@${arm.digest}`), user: '1001' },
      { platform: 'default', digest: bare.digest, compressedSize: await sizeOf(`${r}@${bare.digest}`), user: '1002' },
    ]);
  });
});

describe('resolveImage: manifests that cannot be checked are refused', () => {
  it('an index with no manifests', async () => {
    const r = repo();
    await pushIndex(`${r}:1`, []);
    const e = await failure(resolveImage(`${r}:1`));
    expect(e.code).toBe('POLICY_VIOLATION');
    expect(e.message).toBe(`${r}:1 is an index with no image manifests: nothing to promote`);
  });

  it('a child annotated as an attestation manifest that is an index, has no layers, or describes itself or nothing', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const annotated = (d: typeof good, described?: string) => ({
      ...d,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', ...(described ? { 'vnd.docker.reference.digest': described } : {}) },
    });
    const inner = await describeManifest(`${r}@${await pushIndex(`${r}:inner`, [good])}`);
    const config = (await manifestOf(`${r}@${good.digest}`)).manifest.config!;
    const layerless = await describeManifest(`${r}@${await pushManifest(`${r}:layerless`, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }, OCI_MANIFEST)}`);
    const att = await pushAttestationManifest(r, good.digest);
    const cases: [string, object, string][] = [
      ['index', annotated(inner, good.digest), 'it is an index'],
      ['no layers', annotated(layerless, good.digest), 'it has no layers'],
      ['itself', annotated(att, att.digest), 'vnd.docker.reference.digest does not name another manifest of the index'],
      ['nothing', annotated(att), 'vnd.docker.reference.digest does not name another manifest of the index'],
      ['an absent digest', annotated(att, `sha256:${'e'.repeat(64)}`), 'vnd.docker.reference.digest does not name another manifest of the index'],
    ];
    for (const [what, child, why] of cases) {
      await pushIndex(`${r}:${what.replace(/ /g, '-')}`, [good, child as typeof good]);
      const e = await failure(resolveImage(`${r}:${what.replace(/ /g, '-')}`));
      expect(e.code, what).toBe('POLICY_VIOLATION');
      expect(e.message, what).toBe(`${r}@${(child as typeof good).digest} is annotated as an attestation manifest, but ${why}: refusing an index child that would be copied unchecked`);
    }
  });

  it('skips only a genuine attestation manifest: every layer in-toto, describing a sibling', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const att = await pushAttestationManifest(r, good.digest);
    await pushIndex(`${r}:genuine`, [good, att]);
    const resolved = await resolveImage(`${r}:genuine`);
    expect(resolved.platforms).toEqual([{ platform: 'linux/amd64', digest: good.digest, compressedSize: await sizeOf(`${r}@${good.digest}`), user: '1000' }]);
    // The same statement layer beside a filesystem layer is runnable: refused, whatever it claims.
    const { manifest: image } = await manifestOf(`${r}@${good.digest}`);
    const { manifest: statement } = await manifestOf(`${r}@${att.digest}`);
    const mixed = await describeManifest(`${r}@${await pushManifest(`${r}:mixed`, { ...image, layers: [...statement.layers!, ...image.layers!] }, OCI_MANIFEST)}`);
    const runnable = await describeManifest(`${r}@${await buildImage(`${r}:runnable`, { user: '0' })}`);
    for (const [tag, child] of [['mixed', mixed], ['runnable', runnable]] as const) {
      await pushIndex(`${r}:${tag}-index`, [good, { ...child, platform: { os: 'unknown', architecture: 'unknown' }, annotations: att.annotations }]);
      const e = await failure(resolveImage(`${r}:${tag}-index`));
      expect(e.message, tag).toBe(`${r}@${child.digest} is annotated as an attestation manifest, but it has layers that are not application/vnd.in-toto+json: refusing an index child that would be copied unchecked`);
    }
  });

  it('a child that is itself an index, and an index without a manifests list', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000' })}`);
    const inner = await describeManifest(`${r}@${await pushIndex(`${r}:inner`, [good])}`, { platform: { os: 'linux', architecture: 'arm64' } });
    await pushIndex(`${r}:nested`, [inner]);
    const e = await failure(resolveImage(`${r}:nested`));
    expect(e.code).toBe('POLICY_VIOLATION');
    expect(e.message).toBe(`${r}@${inner.digest} (linux/arm64) is a nested index: only one level of platform images is checked, so it is not promoted`);
    const INDEX = 'application/vnd.oci.image.index.v1+json';
    await pushManifest(`${r}:bare-index`, { schemaVersion: 2, mediaType: INDEX }, INDEX);
    expect((await failure(resolveImage(`${r}:bare-index`))).message).toBe(`${r}:bare-index is an index with no image manifests: nothing to promote`);
  });

  it('a manifest without layers (distribution refuses one without a config)', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const { manifest } = await manifestOf(`${r}@${good.digest}`);
    const att = await pushAttestationManifest(r, good.digest);
    const noLayers: Record<string, unknown> = { ...manifest };
    delete noLayers.layers;
    const layerless = await describeManifest(`${r}@${await pushManifest(`${r}:no-layers`, noLayers, OCI_MANIFEST)}`);
    // Runnable, it is checked (its size is the config's); annotated as an attestation, it is refused.
    expect((await resolveImage(`${r}:no-layers`)).platforms).toEqual([{ platform: 'default', digest: layerless.digest, compressedSize: manifest.config!.size, user: '1000' }]);
    await pushIndex(`${r}:no-layers-index`, [good, { ...layerless, annotations: att.annotations }]);
    expect((await failure(resolveImage(`${r}:no-layers-index`))).message).toContain('is annotated as an attestation manifest, but it has no layers');
  });

  it('an image whose config is not a container image config, named with its platform', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const { manifest } = await manifestOf(`${r}@${good.digest}`);
    const odd = await pushManifest(`${r}:odd`, { ...manifest, config: { ...manifest.config, mediaType: 'application/vnd.example.config+json' } }, OCI_MANIFEST);
    const e = await failure(resolveImage(`${r}:odd`));
    expect(e.code).toBe('POLICY_VIOLATION');
    expect(e.message).toBe(`${r}@${odd} (default) is not a container image (config application/vnd.example.config+json): it cannot be checked, so it is not promoted`);
  });
});

describe('trustedRepositoryFor: the path below incoming, below trusted', () => {
  const config = { incoming: 'incoming.example.test:5000/team', trusted: 'trusted.example.test/forge' };
  it.each([
    ['incoming.example.test:5000/team/app:1', 'trusted.example.test/forge/app'],
    ['incoming.example.test:5000/team/a/b@sha256:' + 'a'.repeat(64), 'trusted.example.test/forge/a/b'],
    ['INCOMING.example.test:5000/team/app:1', 'trusted.example.test/forge/app'],
  ])('%s -> %s', (reference, trusted) => {
    expect(trustedRepositoryFor(reference, config)).toBe(trusted);
  });

  it('a trusted registry without a path, and prefixes written with a trailing slash', () => {
    expect(trustedRepositoryFor('in.example.test/team/app:1', { incoming: 'in.example.test/team/', trusted: 'trusted.example.test/' })).toBe('trusted.example.test/app');
  });

  it.each([
    'incoming.example.test:5000/team:1',
    'incoming.example.test:5000/other/app:1',
    'incoming.example.test:5000/team-evil/app:1',
    'incoming.example.test:5001/team/app:1',
    'other.example.test:5000/team/app:1',
  ])('%s is refused, naming the incoming registry', (reference) => {
    const e = (() => {
      try {
        trustedRepositoryFor(reference, config);
      } catch (err) {
        return err as { code?: string; message: string };
      }
      throw new Error('nothing thrown');
    })();
    expect(e.code).toBe('POLICY_VIOLATION');
    expect(e.message).toBe(`${reference.replace(/:1$/, '')} is not in the incoming registry incoming.example.test:5000/team: only images pushed there are promoted`);
  });
});
