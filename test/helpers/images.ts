import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crane } from '../../steps/lib/crane.ts';
import { buildImage } from '../../steps/local/images.ts';

export { buildImage };
import { toolPath } from '../../steps/lib/tools.ts';
import { execa } from 'execa';

/** A multi-platform index of two images, pushed to `reference`. Returns the index digest. */
export async function buildIndex(reference: string, user = '1000'): Promise<string> {
  const repo = reference.split(':').slice(0, -1).join(':') || reference;
  const amd = await buildImage(`${repo}:amd64-${randomBytes(3).toString('hex')}`, { user, platform: 'linux/amd64' });
  const arm = await buildImage(`${repo}:arm64-${randomBytes(3).toString('hex')}`, { user, platform: 'linux/arm64' });
  await crane(['index', 'append', '--insecure', '-m', `${repo}@${amd}`, '-m', `${repo}@${arm}`, '-t', reference]);
  return (await crane(['digest', '--insecure', reference])).trim();
}

/** Repositories a registry holds (distribution's catalog API). */
export async function catalog(registryUrl: string): Promise<string[]> {
  const r = await fetch(`${registryUrl}/v2/_catalog`);
  return ((await r.json()) as { repositories: string[] | null }).repositories ?? [];
}

/**
 * An image whose layers hold the given files (path → content; `null` writes an overlay whiteout
 * `.wh.<name>`, deleting the file of a lower layer), bottom layer first. Returns its digest.
 */
export async function buildImageWithFiles(reference: string, layers: Record<string, string | null>[], opts: { user?: string } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-image-'));
  try {
    const files: string[] = [];
    for (const [i, layer] of layers.entries()) {
      const root = join(dir, `root-${i}`);
      for (const [path, content] of Object.entries(layer)) {
        const parts = path.split('/');
        const name = parts.pop()!;
        const parent = join(root, ...parts);
        await mkdir(parent, { recursive: true });
        await writeFile(join(parent, content === null ? `.wh.${name}` : name), content ?? '');
      }
      const tar = join(dir, `layer-${i}.tar`);
      await execa('tar', ['-C', root, '-cf', tar, '.']);
      files.push('-f', tar);
    }
    await crane(['append', '--insecure', '--oci-empty-base', ...files, '-t', reference]);
    if (opts.user !== undefined) await crane(['mutate', '--insecure', '--user', opts.user, reference]);
    return (await crane(['digest', '--insecure', reference])).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A descriptor of a manifest already in the registry, for hand-made indexes. */
export async function describe(reference: string, extra: { platform?: { os: string; architecture: string }; annotations?: Record<string, string> } = {}) {
  const raw = await crane(['manifest', '--insecure', reference]);
  const manifest = JSON.parse(raw) as { mediaType?: string };
  const digest = (await crane(['digest', '--insecure', reference])).trim();
  return { mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest, size: Buffer.byteLength(raw), ...extra };
}

/** Pushes an OCI index with exactly these child descriptors (platforms and annotations as given). */
export async function pushIndex(reference: string, manifests: Awaited<ReturnType<typeof describe>>[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-index-'));
  try {
    const file = join(dir, 'index.json');
    await writeFile(file, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    await execa(toolPath('oras'), ['manifest', 'push', '--plain-http', '--media-type', 'application/vnd.oci.image.index.v1+json', reference, file]);
    return (await crane(['digest', '--insecure', reference])).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A BuildKit-style attestation manifest (one in-toto layer) describing `subjectDigest`; returns its descriptor. */
export async function pushAttestationManifest(repository: string, subjectDigest: string) {
  const dir = await mkdtemp(join(tmpdir(), 'forge-att-'));
  try {
    const statement = JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [{ name: repository, digest: { sha256: subjectDigest.slice(7) } }], predicate: {} });
    await writeFile(join(dir, 'provenance.json'), statement);
    const tag = `${repository}:att-${randomBytes(3).toString('hex')}`;
    await execa(toolPath('oras'), ['push', '--plain-http', '--image-spec', 'v1.1', tag, 'provenance.json:application/vnd.in-toto+json'], { cwd: dir });
    return describe(tag, {
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': subjectDigest },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
