import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { discover } from '../../steps/discover/discover.ts';
import { renderResources } from '../../steps/discover/render.ts';
import { generateKeyPair, verifyImage } from '../../steps/lib/cosign.ts';
import { crane } from '../../steps/lib/crane.ts';
import { passwdOf } from '../../steps/lib/image-passwd.ts';
import { buildArtifact } from '../../steps/lib/release/artifact.ts';
import { toolPath, toolsHome } from '../../steps/lib/tools.ts';
import { createRepo, type TempRepo } from '../helpers/git-repo.ts';
import { buildImageWithFiles } from '../helpers/images.ts';
import { freePort } from '../helpers/ports.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';

// examples/monorepo's api-server, released as forge releases it: discovery gives the artifact's
// configuration, its producer (src/build.mjs --image) builds a real image without Docker — crane
// appends the app onto FORGE_BASE_IMAGE (here a base pushed to a loopback registry) and writes an
// OCI layout —, the docker publisher pushes and signs it, and the project's Deployment renders
// with its uri. The app in the image is run and answers its readiness probe.
const EXAMPLE = join(import.meta.dirname, '../../examples/monorepo');
let registry: Registry;
let tmp: string;
let repo: TempRepo;
let keys: { privateKey: string; publicKey: string };
let base: string;

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[relative(EXAMPLE, join(e.parentPath, e.name))] = await readFile(join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-api-image-'));
  await mkdir(join(tmp, 'keys'));
  keys = await generateKeyPair(join(tmp, 'keys'));
  repo = await createRepo(await files(EXAMPLE));
  // The base: what a node image brings that matters here (the node binary is the test's own).
  base = `${registry.host}/library/node:24-test`;
  await buildImageWithFiles(base, [{ 'etc/passwd': 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n', 'etc/group': 'root:x:0:\nnonroot:x:65532:\n', 'tmp/.keep': '' }]);
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  await repo?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

describe('examples/monorepo api-server', () => {
  test('built from FORGE_BASE_IMAGE without Docker, published, signed, rendered into its Deployment, and it serves', async () => {
    const { output } = await discover({ source: repo.dir, commit: repo.commit, branch: 'main' });
    const api = output.projects.find((p) => p.name === 'api')!;
    const publishers = { incoming: { ...output.repository.publishers.incoming!, registry: registry.host } };
    const run = () => buildArtifact(
      {
        checkout: repo.dir, project: 'api', projectPath: api.path, repository: 'acme/monorepo', repositoryUrl: 'https://git.example.test/acme/monorepo.git',
        commit: repo.commit, branch: 'main', name: 'api-server', config: api.artifacts['api-server']!, publishers, trackingRegistry: `${registry.host}/tracking`,
        sign: { key: keys.privateKey, transparencyLog: false }, builder: 'https://forge-workflows.dev/pools/artifact', workflow: { name: 'forge-release-x', uid: 'u-1' },
        signal: new AbortController().signal, log: () => undefined,
      },
      { workerEnv: { PATH: [join(toolsHome(), 'bin'), process.env.PATH].join(delimiter), HOME: tmp, FORGE_BASE_IMAGE: base }, resolveSecret: () => Promise.reject(new Error('none')) },
    );
    const result = await run();
    expect(result.uri).toBe(`${registry.host}/forge-demo/api/api-server@${result.digest}`);
    expect((await verifyImage(result.uri, { key: keys.publicKey, transparencyLog: false })).digest).toBe(result.digest);
    const config = JSON.parse(await crane(['config', '--insecure', result.uri])) as { config: Record<string, unknown> };
    expect(config.config).toMatchObject({ Entrypoint: ['node'], Cmd: ['/app/server.mjs'], User: '65532:65532', WorkingDir: '/app', ExposedPorts: { '8080/tcp': {} } });
    expect(await passwdOf(result.uri)).toMatch(/^nonroot:x:65532:65532:/m); // the USER exists in the base's /etc/passwd
    // Reproducible: the same sources and base give the same image, which is then reused.
    expect((await run()).digest).toBe(result.digest);

    // The app as the image holds it, run with node: it answers the readiness probe.
    const fsTar = join(tmp, 'fs.tar');
    await execa(toolPath('crane'), ['export', '--insecure', result.uri, fsTar]);
    await execa('tar', ['-xf', fsTar, '-C', tmp, 'app']);
    const port = await freePort();
    const server = spawn(process.execPath, [join(tmp, 'app', 'server.mjs')], { env: { PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => server.stdout.once('data', resolve));
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect([res.status, await res.json()]).toEqual([200, { status: 'ok' }]);
    } finally {
      server.kill();
    }

    const rendered = await renderResources({ root: repo.dir, repoFile: '.forge/repo.cue', projectFile: api.config, artifacts: { 'api-server': result } });
    expect(rendered.files.map((f) => f.name)).toEqual(['deployment-api.yaml', 'service-api.yaml']);
    const deployment = YAML.parse(rendered.files[0]!.content) as { spec: { template: { spec: { containers: { image: string; readinessProbe: unknown; securityContext: unknown }[] } } } };
    expect(deployment.spec.template.spec.containers[0]).toMatchObject({ image: result.uri, readinessProbe: { httpGet: { path: '/healthz', port: 'http' } }, securityContext: { readOnlyRootFilesystem: true } });
  }, 300_000);
});
