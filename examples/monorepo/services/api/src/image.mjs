import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// The api-server image, built without a Docker daemon (forge's container producer contract,
// docs/releases.md "Artifacts"): crane appends one layer with the app (/app) onto the node image
// FORGE_BASE_IMAGE, sets `node /app/server.mjs` as entrypoint and cmd and the non-root user
// 65532:65532 (nonroot in the forge step image's /etc/passwd), pushes the result to a throw-away
// loopback registry (`crane registry serve`, its blobs on disk: a base of hundreds of MB must
// not sit in the producer's memory), and pulls it from there as the OCI
// image layout forge publishes: $FORGE_ARTIFACT_DIR/image. The same sources and base give the
// same digest (mtime 0, owner 0, sorted entries).
const run = promisify(execFile);
const out = process.env.FORGE_ARTIFACT_DIR;
const base = process.env.FORGE_BASE_IMAGE;
if (!out) throw new Error('FORGE_ARTIFACT_DIR is not set: build.mjs --image is the api-server producer that forge runs in a release');
if (!base) throw new Error('FORGE_BASE_IMAGE is not set: name the node base image (a worker passes its FORGE_BASE_IMAGE through)');
const USER = '65532:65532';
const insecure = (ref) => ((process.env.FORGE_INSECURE_REGISTRIES ?? '').split(',').map((h) => h.trim()).includes(ref.split('/')[0]) ? ['--insecure'] : []);
const platform = process.env.FORGE_IMAGE_PLATFORM ?? `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`;

const work = mkdtempSync(join(tmpdir(), 'api-image-'));
mkdirSync(join(work, 'blobs'));
const registry = spawn('crane', ['registry', 'serve', '--address', '127.0.0.1:0', '--disk', join(work, 'blobs')], { stdio: ['ignore', 'ignore', 'pipe'] });
try {
  writeFileSync(join(work, 'app.tar'), tar([
    ['app/', null],
    ['app/package.json', Buffer.from(`${JSON.stringify({ name: 'api', private: true, type: 'module' })}\n`)],
    ['app/server.mjs', readFileSync(new URL('./server.mjs', import.meta.url))],
  ]));
  const port = await servingPort(registry);
  const built = `127.0.0.1:${port}/api:build`;
  await run('crane', ['mutate', ...insecure(base), '--platform', platform, base, '--append', join(work, 'app.tar'), '--entrypoint', 'node', '--cmd', '/app/server.mjs', '--user', USER, '--workdir', '/app', '--env', 'PORT=8080', '--exposed-ports', '8080/tcp', '--tag', built]);
  await run('crane', ['pull', '--format', 'oci', built, join(out, 'image')]);
  console.log(`api-server image from ${base} written to ${join(out, 'image')}`);
} finally {
  registry.kill();
  rmSync(work, { recursive: true, force: true });
}

/** The port `crane registry serve` reports ("serving on port N"). */
function servingPort(child) {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`crane registry serve did not start: ${log}`)), 15_000);
    child.once('error', (e) => reject(new Error(`cannot start crane (is it on PATH?): ${e.message}`)));
    child.once('exit', (code) => reject(new Error(`crane registry serve exited (${code}): ${log}`)));
    child.stderr.setEncoding('utf8').on('data', (text) => {
      log = (log + text).slice(-4000);
      const m = /serving on port (\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

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
