import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

// The api-server image, built without a Docker daemon or a registry (forge's container producer
// contract, docs/releases.md "Artifacts"): `crane pull --format oci` writes the node image
// FORGE_BASE_IMAGE as an OCI image layout in $FORGE_ARTIFACT_DIR/image, and this script adds one
// layer with the app (/app) and a new config — `node /app/server.mjs`, the non-root user
// 65532:65532 (nonroot in the forge step image's /etc/passwd), /app, port 8080 — as the OCI
// image spec describes them: blobs named by their sha256, the config listing the layer's
// uncompressed digest, a manifest, index.json pointing at it. The same sources and base give the
// same digest (mtime 0, owner 0, sorted entries, gzip without a timestamp, a fixed `created`).
const run = promisify(execFile);
const out = process.env.FORGE_ARTIFACT_DIR;
const base = process.env.FORGE_BASE_IMAGE;
if (!out) throw new Error('FORGE_ARTIFACT_DIR is not set: build.mjs --image is the api-server producer that forge runs in a release');
if (!base) throw new Error('FORGE_BASE_IMAGE is not set: name the node base image (a worker passes its FORGE_BASE_IMAGE through)');
const USER = '65532:65532';
const insecure = (ref) => ((process.env.FORGE_INSECURE_REGISTRIES ?? '').split(',').map((h) => h.trim()).includes(ref.split('/')[0]) ? ['--insecure'] : []);
const platform = process.env.FORGE_IMAGE_PLATFORM ?? `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`;
const layout = join(out, 'image');

await run('crane', ['pull', ...insecure(base), '--platform', platform, '--format', 'oci', base, layout], { maxBuffer: 16 * 1024 * 1024 });
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const blob = (digest) => join(layout, 'blobs', ...digest.split(':'));
const put = (bytes) => {
  const digest = `sha256:${sha256(bytes)}`;
  writeFileSync(blob(digest), bytes);
  return { digest, size: bytes.length };
};
const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
if (index.manifests?.length !== 1) throw new Error(`${base}: expected one image in the pulled layout, found ${index.manifests?.length ?? 0}`);
const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));

const tarball = tar([
  ['app/', null],
  ['app/package.json', Buffer.from(`${JSON.stringify({ name: 'api', private: true, type: 'module' })}\n`)],
  ['app/server.mjs', readFileSync(new URL('./server.mjs', import.meta.url))],
]);
const layer = put(gzipSync(tarball, { level: 9 }));
const created = '2026-01-01T00:00:00Z';
config.rootfs.diff_ids.push(`sha256:${sha256(tarball)}`);
config.history = [...(config.history ?? []), { created, created_by: 'forge examples/monorepo api: build.mjs --image' }];
config.created = created;
config.config = {
  ...config.config,
  Entrypoint: ['node'],
  Cmd: ['/app/server.mjs'],
  User: USER,
  WorkingDir: '/app',
  Env: [...(config.config?.Env ?? []).filter((e) => !e.startsWith('PORT=')), 'PORT=8080'],
  ExposedPorts: { '8080/tcp': {} },
};
const configBlob = put(Buffer.from(JSON.stringify(config)));
manifest.config = { ...manifest.config, ...configBlob };
manifest.layers = [...manifest.layers, { mediaType: manifest.mediaType === 'application/vnd.oci.image.manifest.v1+json' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...layer }];
const manifestBlob = put(Buffer.from(JSON.stringify(manifest)));
index.manifests = [{ ...index.manifests[0], digest: manifestBlob.digest, size: manifestBlob.size }];
writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
console.log(`api-server image from ${base} written to ${layout} (${manifestBlob.digest})`);

/** A reproducible ustar archive: entries in order, mtime 0, owner 0:0, 0755 directories, 0644 files. */
function tar(entries) {
  const blocks = [];
  for (const [name, body] of entries) {
    const h = Buffer.alloc(512);
    const field = (value, offset, length) => h.write(value, offset, length, 'ascii');
    const octal = (n, offset, length) => field(`${n.toString(8).padStart(length - 1, '0')}\0`, offset, length);
    field(name, 0, 100);
    octal(body ? 0o644 : 0o755, 100, 8);
    octal(0, 108, 8);
    octal(0, 116, 8);
    octal(body ? body.length : 0, 124, 12);
    octal(0, 136, 12);
    h.fill(' ', 148, 156);
    field(body ? '0' : '5', 156, 1);
    field('ustar\0', 257, 6);
    field('00', 263, 2);
    let sum = 0;
    for (const b of h) sum += b;
    field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    blocks.push(h);
    if (body) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
