import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildImageWithFiles } from '../../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../../test/helpers/registry.ts';
import { generateKeyPair, verifyImage } from '../cosign.ts';
import { digestOf, manifestOf, tagsOf } from '../crane.ts';
import { ForgeError } from '../errors.ts';
import { toolsHome } from '../tools.ts';
import { buildArtifact, type ArtifactInput } from './artifact.ts';
import { artifactResultSchema } from './artifact-result.ts';
import { ARTIFACT_METADATA, IN_TOTO, SYFT_SBOM } from './media-types.ts';
import type { ArtifactConfig } from './produce.ts';

// One artifact job end to end on a real registry, with real crane, oras, syft and cosign: the
// producer (a script, run as phase steps run) writes its output into $FORGE_ARTIFACT_DIR, the
// publishers push it (a container is signed with the build key), the tracking image follows.
let registry: Registry;
let tmp: string;
let keys: { privateKey: string; publicKey: string };
let checkout: string;
let built: string;
const COMMIT = 'a1'.repeat(20);
const workerEnv = () => ({ PATH: [join(toolsHome(), 'bin'), process.env.PATH].join(delimiter), HOME: process.env.HOME, SECRET_OF_THE_WORKER: 'never passed' });

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-artifact-test-'));
  await mkdir(join(tmp, 'keys'));
  keys = await generateKeyPair(join(tmp, 'keys'), 'build-pass');
  checkout = join(tmp, 'checkout');
  await mkdir(join(checkout, 'services', 'api'), { recursive: true });
  built = `${registry.host}/build/api:src`;
  await buildImageWithFiles(built, [{ 'app/package.json': JSON.stringify({ name: 'api', version: '1.0.0' }), 'app/node_modules/left-pad/package.json': JSON.stringify({ name: 'left-pad', version: '1.3.0' }) }], { user: '65532' });
  // Producers: plain node scripts in the project directory.
  const script = (name: string, body: string) => writeFile(join(checkout, 'services', 'api', name), `import { execFileSync } from 'node:child_process';\nimport { mkdirSync, writeFileSync } from 'node:fs';\nconst out = process.env.FORGE_ARTIFACT_DIR;\n${body}\n`);
  await script('image.mjs', `execFileSync('crane', ['pull', '--format', 'oci', process.argv[2], out + '/image'], { stdio: 'inherit' });`);
  await script('binary.mjs', `writeFileSync(out + '/api-cli', 'cli for ' + process.env.FORGE_COMMIT + (process.env.SECRET_OF_THE_WORKER ?? ''));\nwriteFileSync(out + '/artifact.json', JSON.stringify({ os: 'linux', arch: 'arm64' }));`);
  await script('link.mjs', `(await import('node:fs')).symlinkSync('/etc/passwd', out + '/api-cli');\nwriteFileSync(out + '/artifact.json', JSON.stringify({ os: 'linux', arch: 'amd64' }));`);
  await script('nothing.mjs', `console.log('built nothing');`);
  // A stand-in earthly (no BuildKit here): records its argv and environment, and saves the
  // target's output where the FORGE_ARTIFACT_DIR build arg says, as a target's SAVE ARTIFACT … AS LOCAL would.
  await writeFile(join(tmp, 'earthly'), `#!${process.execPath}\nconst fs = require('node:fs');\nconst dir = process.argv.find((a) => a.startsWith('--FORGE_ARTIFACT_DIR=')).slice('--FORGE_ARTIFACT_DIR='.length);\nfs.writeFileSync(process.env.HOME + '/earthly-call.json', JSON.stringify({ argv: process.argv.slice(2), env: process.env.FORGE_ARTIFACT_DIR === dir }));\nfs.writeFileSync(dir + '/cli.tar.gz', require('node:zlib').gzipSync(Buffer.alloc(1024)));\nfs.writeFileSync(dir + '/artifact.json', JSON.stringify({ os: 'darwin', arch: 'arm64', format: 'tar.gz' }));\n`, { mode: 0o755 });
  await script('fail.mjs', `console.error('compile error: missing semicolon');\nprocess.exit(7);`);
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const logs: string[] = [];
const input = (name: string, config: ArtifactConfig, over: Partial<ArtifactInput> = {}): ArtifactInput => ({
  checkout, project: 'api', projectPath: 'services/api', repository: 'acme/monorepo', repositoryUrl: 'https://x:tok@git.example.test/acme/monorepo.git',
  commit: COMMIT, branch: 'main', name, config,
  publishers: { incoming: { type: 'docker', registry: registry.host, namespace: 'incoming' }, docs: { type: 's3', bucket: 'b' } },
  trackingRegistry: `${registry.host}/tracking`, sign: { key: keys.privateKey, password: 'build-pass', transparencyLog: false },
  builder: 'https://forge-workflows.dev/pools/artifact', workflow: { name: 'forge-release-abc', uid: 'uid-1' }, signal: new AbortController().signal,
  log: (line) => logs.push(line), ...over,
});
const deps = () => ({ workerEnv: workerEnv(), resolveSecret: () => Promise.reject(new Error('no secrets here')), stagingRoot: tmp });
const script = (file: string, args: string[] = []) => ({ script: { target: process.execPath, args: [file, ...args] } });
const refusal = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ForgeError);
  return e as ForgeError;
};

describe('buildArtifact', () => {
  test('a container: its layout published, signed by the build key, tracked; a rerun pushes nothing', async () => {
    const config: ArtifactConfig = { type: 'container', producer: script('image.mjs', [built]), publishers: { incoming: { tags: ['sha', 'branch'] } } };
    const result = await buildArtifact(input('api-server', config), deps());
    expect(artifactResultSchema.parse(result)).toEqual(result);
    const image = await digestOf(built);
    const repo = `${registry.host}/incoming/api/api-server`;
    expect(result).toMatchObject({
      name: 'api-server', type: 'container', uri: `${repo}@${image}`, digest: image,
      producer: { digest: image, layers: '1' },
      publishers: { incoming: { uri: `${repo}@${image}`, registry: registry.host, namespace: 'incoming', repository: 'incoming/api/api-server', tag: `sha-${COMMIT}`, digest: image } },
      tracking: { uri: `${registry.host}/tracking/acme/monorepo/api/api-server:sha-${COMMIT}` },
    });
    expect(Number(result.producer.size)).toBeGreaterThan(0);
    expect(await digestOf(`${repo}:main`)).toBe(image);
    // verify-and-promote's check: the build key's signature on the published digest.
    expect((await verifyImage(result.uri, { key: keys.publicKey, transparencyLog: false })).digest).toBe(image);
    const { manifest } = await manifestOf(result.tracking.uri);
    expect(manifest.layers!.map((l) => l.mediaType)).toEqual([ARTIFACT_METADATA, SYFT_SBOM, IN_TOTO]);
    expect((await verifyImage(`${registry.host}/tracking/acme/monorepo/api/api-server@${result.tracking.digest}`, { key: keys.publicKey, transparencyLog: false })).digest).toBe(result.tracking.digest);
    expect(await readdir(tmp)).not.toContainEqual(expect.stringMatching(/^forge-artifact-/)); // staging removed

    const state = async () => Promise.all([repo, `${registry.host}/tracking/acme/monorepo/api/api-server`].map(async (r) => Promise.all((await tagsOf(r)).sort().map(async (t) => `${t}=${await digestOf(`${r}:${t}`)}`))));
    const before = await state();
    expect(before[0]).toContainEqual(expect.stringMatching(/^sha256-[0-9a-f]{64}\.sig=/));
    logs.length = 0;
    expect(await buildArtifact(input('api-server', config), deps())).toEqual(result);
    expect(await state()).toEqual(before); // same tags, same digests: no new signature, no new tracking image
    expect(logs).toContainEqual(expect.stringMatching(/signed by the build key already/));
  }, 300_000);

  test('a binary: one file with os/arch, published as an OCI artifact; the worker’s other variables never reach the producer', async () => {
    const result = await buildArtifact(input('api-cli', { type: 'binary', producer: script('binary.mjs'), publishers: { incoming: {} } }), deps());
    expect(result.producer).toMatchObject({ os: 'linux', arch: 'arm64', size: String(`cli for ${COMMIT}`.length) });
    const { manifest } = await manifestOf(`${registry.host}/incoming/api/api-cli:sha-${COMMIT}`);
    expect(manifest.layers![0]!.annotations).toMatchObject({ 'org.catalyst-forge.os': 'linux', 'org.catalyst-forge.arch': 'arm64', 'org.opencontainers.image.title': 'api-cli' });
    expect(result.digest).toBe(await digestOf(`${registry.host}/incoming/api/api-cli:sha-${COMMIT}`));
  }, 180_000);

  test('a producer that writes nothing, or a link: the error names the artifact and what is wrong; staging is removed', async () => {
    const e = await refusal(buildArtifact(input('api-server', { type: 'container', producer: script('nothing.mjs'), publishers: { incoming: {} } }), deps()));
    expect(e.message).toBe('artifact api-server of api: a container producer writes an OCI image layout with one image into $FORGE_ARTIFACT_DIR/image; image/oci-layout is missing');
    const b = await refusal(buildArtifact(input('api-cli', { type: 'archive', producer: script('nothing.mjs'), publishers: { incoming: {} } }), deps()));
    expect(b.message).toMatch(/^artifact api-cli of api: a archive producer writes one file and artifact.json \(\{os, arch, format\}\) into \$FORGE_ARTIFACT_DIR; artifact.json is missing$/);
    const l = await refusal(buildArtifact(input('api-cli', { type: 'binary', producer: script('link.mjs'), publishers: { incoming: {} } }), deps()));
    expect(l.message).toBe('artifact api-cli of api: FORGE_ARTIFACT_DIR/api-cli is not a regular file or directory (links are refused)');
    expect(await readdir(tmp)).not.toContainEqual(expect.stringMatching(/^forge-artifact-/));
  });

  test('a producer that fails: its exit code and last lines are named', async () => {
    const e = await refusal(buildArtifact(input('api-server', { type: 'container', producer: script('fail.mjs'), publishers: { incoming: {} } }), deps()));
    expect(e.code).toBe('ARTIFACT_FAILED');
    expect(e.message).toBe(`artifact api-server of api: the script producer ${process.execPath} exited with code 7: compile error: missing semicolon`);
  });

  test('an earthly producer: earthly --ci +target with FORGE_ARTIFACT_DIR as a build arg and in its environment', async () => {
    const result = await buildArtifact(input('cli-archive', { type: 'archive', producer: { earthly: { target: '+cli', args: ['--VERSION=1.2.3'] } }, publishers: { incoming: {} } }), { ...deps(), workerEnv: { ...workerEnv(), HOME: tmp }, earthly: join(tmp, 'earthly') });
    const call = JSON.parse(await readFile(join(tmp, 'earthly-call.json'), 'utf8')) as { argv: string[]; env: boolean };
    expect(call).toEqual({ argv: ['--ci', '+cli', expect.stringMatching(/^--FORGE_ARTIFACT_DIR=\/.*\/out$/), '--VERSION=1.2.3'], env: true });
    expect(result.producer).toMatchObject({ os: 'darwin', arch: 'arm64', format: 'tar.gz' });
    const { manifest } = await manifestOf(`${registry.host}/incoming/api/cli-archive:sha-${COMMIT}`);
    expect(manifest.layers![0]!.annotations!['org.catalyst-forge.format']).toBe('tar.gz');
    expect(manifest.layers![0]!.size).toBe(Number(result.producer.size));
  });

  test('github: a container, or a release made without a git tag, is refused before anything is uploaded', async () => {
    const publishers = { gh: { type: 'github', credentials: { provider: 'env', name: 'GH_TOKEN' } } };
    const c = await refusal(buildArtifact(input('api-server', { type: 'container', producer: script('image.mjs', [built]), publishers: { gh: {} } }, { publishers }), deps()));
    expect(c.message).toBe('artifact api-server: publisher gh: the github publisher takes binaries and archives, not a container');
    const b = await refusal(buildArtifact(input('api-cli', { type: 'binary', producer: script('binary.mjs'), publishers: { gh: {} } }, { publishers }), deps()));
    expect(b.message).toBe('artifact api-cli: publisher gh: the github publisher uploads to the release of a git tag; this release was made from branch main');
  });

  test('a publisher type forge cannot publish to is refused by name', async () => {
    const e = await refusal(buildArtifact(input('api-cli', { type: 'binary', producer: script('binary.mjs'), publishers: { docs: {} } }), deps()));
    expect(e.message).toBe('artifact api-cli: publisher docs: publisher type s3 is not supported (docker and github are)');
    const t = await refusal(buildArtifact(input('api-cli', { type: 'binary', producer: script('binary.mjs'), publishers: { incoming: { tags: ['not a tag!'] } } }), deps()));
    expect(t.message).toMatch(/publisher incoming: tags: "not a tag!" is not sha, branch, tag or a valid OCI tag/);
  });
});
