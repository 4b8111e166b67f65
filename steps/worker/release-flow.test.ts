import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKeyPair } from '../lib/cosign.ts';
import { crane } from '../lib/crane.ts';
import { openDatabase } from '../lib/records/db.ts';
import { RELEASE_METADATA, RESOURCES_LAYER } from '../lib/release/media-types.ts';
import { repositoryName } from '../lib/release/repository-name.ts';
import { toolPath, toolsHome } from '../lib/tools.ts';
import { startNats, type NatsServer } from '../local/nats.ts';
import { createRepo, type TempRepo } from '../../test/helpers/git-repo.ts';
import { buildImageWithFiles } from '../../test/helpers/images.ts';
import { runDispatch, startWorker, type WorkerProcess } from '../../test/helpers/pool.ts';
import { startPostgres, type PostgresServer } from '../../test/helpers/postgres.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { attestScan, trivyReport } from '../../test/helpers/trivy.ts';

// A release of examples/monorepo's api as forge-release runs it, each node the real process an
// Argo task and a pool pod run: the release plan, the artifact job on an artifact-pool worker
// (the example's producer builds a real image onto a base, published and signed by the build
// key, with its tracking image), verify-and-promote (`forge promote`, the platform scanner's
// attestation made by the test), the release job on a release-pool worker (rendered with the
// promoted image, recorded in PostgreSQL, the Release OCI image pushed and signed) and the
// deployment to dev (the GitOps pointer in a bare repository) — then the Argo CD plugin's output.
const FORGE = join(import.meta.dirname, '../../bin/forge.mjs');
const EXAMPLE = join(import.meta.dirname, '../../examples/monorepo');
let nats: NatsServer;
let pg: PostgresServer;
let registry: Registry;
let tmp: string;
let repo: TempRepo;
let gitops: string;
let dbUrl: string;
let workers: WorkerProcess[] = [];
const keys: Record<'build' | 'release' | 'scanner' | 'promotion', { privateKey: string; publicKey: string }> = {} as never;
const PATH = [join(toolsHome(), 'bin'), process.env.PATH].join(delimiter);

async function exampleFiles(registryHost: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(EXAMPLE, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[relative(EXAMPLE, join(e.parentPath, e.name))] = await readFile(join(e.parentPath, e.name), 'utf8');
  }
  // The example publishes to localhost:5000; here to the test's registry.
  out['.forge/repo.cue'] = out['.forge/repo.cue']!.replace('"localhost:5000"', JSON.stringify(registryHost));
  return out;
}

const git = (args: string[], cwd?: string) => execa(toolPath('git'), args, { cwd }).then((r) => r.stdout.trim());

beforeAll(async () => {
  [nats, pg, registry] = await Promise.all([startNats(), startPostgres(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'forge-release-flow-'));
  for (const k of ['build', 'release', 'scanner', 'promotion'] as const) {
    await mkdir(join(tmp, k));
    keys[k] = await generateKeyPair(join(tmp, k));
  }
  dbUrl = await pg.createDatabase('forge_release_flow');
  await (await openDatabase({ url: dbUrl, schema: 'migrate' })).close();
  const base = `${registry.host}/library/node:24-test`;
  await buildImageWithFiles(base, [{ 'etc/passwd': 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n', 'etc/group': 'root:x:0:\nnonroot:x:65532:\n', 'tmp/.keep': '' }]);
  repo = await createRepo(await exampleFiles(registry.host));
  // The GitOps repository: a bare repository with a first commit on main.
  const seed = await createRepo({ 'README.md': '# environments\n' });
  gitops = join(tmp, 'gitops.git');
  await git(['clone', '-q', '--bare', seed.dir, gitops]);
  await seed.cleanup();
  const settings = {
    registries: { incoming: registry.host, trusted: `${registry.host}/trusted`, tracking: `${registry.host}/tracking`, release: `${registry.host}/releases` },
    buildKey: { key: keys.build.privateKey },
    releaseKey: { key: keys.release.privateKey },
    gitops: { url: `file://${gitops}`, branch: 'main' },
    // dev takes every release on its own; prod takes main's, once a person approves.
    environments: {
      dev: { allowedTriggers: ['branch_push', 'tag', 'manual'], autoDeploy: true },
      prod: { allowedTriggers: ['branch_push', 'tag', 'manual'], allowedBranches: ['main'], requiresApproval: true },
      production: { allowedTriggers: ['tag', 'manual'], requiresApproval: true },
    },
    baseImage: base,
  };
  await writeFile(join(tmp, 'release-settings.yaml'), YAML.stringify(settings));
  const args = ['--release-settings', join(tmp, 'release-settings.yaml'), '--database-url', dbUrl];
  workers = await Promise.all([
    startWorker({ natsUrl: nats.url, pool: 'artifact', name: 'artifact-1', env: { PATH }, args }),
    startWorker({ natsUrl: nats.url, pool: 'release', name: 'release-1', env: { PATH }, args }),
  ]);
  await Promise.all(workers.map((w) => w.ready));
}, 180_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.cleanup()));
  await Promise.all([nats?.stop(), pg?.stop(), registry?.stop()]);
  await repo?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** One Argo task's dispatcher; its output files in a directory of their own. */
async function task(run: string, kind: string, extra: string[]): Promise<{ code: number | null; output: string; outputs: Record<string, string> }> {
  const dir = await mkdtemp(join(tmp, `${kind}-`));
  const { code, output } = await runDispatch([kind, '--run-id', run, '--repo-url', `file://${repo.dir}`, '--commit', repo.commit, '--nats-url', nats.url, '--outputs-dir', dir, ...extra], { FORGE_WORKFLOW_NAME: `forge-release-${run}` }).done;
  const outputs: Record<string, string> = {};
  for (const f of await readdir(dir)) outputs[f] = await readFile(join(dir, f), 'utf8');
  return { code, output, outputs };
}

const release = ['--project', 'api', '--path', 'services/api', '--branch', 'main'];

/** forge-release's nodes in order, as the template wires them. */
async function releaseRun(run: string) {
  const plan = await task(run, 'release-plan', release);
  expect(plan.code, plan.output).toBe(0);
  const items = JSON.parse(plan.outputs.artifacts!) as Record<string, unknown>[];
  const built = await Promise.all(items.map((item) => task(run, 'artifact', ['--task', JSON.stringify(item)])));
  for (const b of built) expect(b.code, b.output).toBe(0);
  for (const { image } of JSON.parse(plan.outputs.images!) as { image: string }[]) {
    const digest = (await crane(['digest', '--insecure', image])).trim();
    const pinned = `${image.slice(0, image.lastIndexOf(':'))}@${digest}`;
    // The platform scanner (played by the test) attests the image it scanned.
    await attestScan(pinned, trivyReport(pinned.split('@')[0]!, digest, '65532'), keys.scanner.privateKey);
    const promoted = await execa(process.execPath, [FORGE, 'promote', image, '--incoming', registry.host, '--trusted', `${registry.host}/trusted`, '--key', keys.build.publicKey, '--scanner-key', keys.scanner.publicKey,
      '--promotion-key', keys.promotion.privateKey, '--promotion-pub', keys.promotion.publicKey, '--transparency-log', 'false', '--database-url', dbUrl], { reject: false, env: { PATH, COSIGN_PASSWORD: '' } });
    expect(promoted.exitCode, promoted.stdout + promoted.stderr).toBe(0);
  }
  const made = await task(run, 'release', release);
  return { plan, built, made };
}

describe('a release of examples/monorepo api on the artifact and release pools', () => {
  test('plan → artifact → promote → release → deploy to dev; the plugin renders the promoted image', async () => {
    const { plan, built, made } = await releaseRun('rel-1');
    expect(plan.outputs.trigger).toBe('branch');
    expect(JSON.parse(plan.outputs.artifacts!)).toEqual([{ id: 'artifact--api--api-server', project: 'api', path: 'services/api', artifact: 'api-server', branch: 'main', manual: false }]);
    expect(JSON.parse(plan.outputs.images!)).toEqual([{ artifact: 'api-server', image: `${registry.host}/forge-demo/api/api-server:sha-${repo.commit}` }]);
    const artifact = JSON.parse(built[0]!.outputs['artifact.json']!) as { uri: string; digest: string; tracking: { uri: string } };
    expect(artifact.tracking.uri).toBe(`${registry.host}/tracking/${repositoryName(`file://${repo.dir}`)}/api/api-server:sha-${repo.commit}`);

    expect(made.code, made.output).toBe(0);
    expect(made.outputs.number).toBe('1');
    expect(JSON.parse(made.outputs['aliases.json']!)).toEqual({ numeric: '1', branch: 'main-1' });
    expect(JSON.parse(made.outputs.environments!)).toEqual(['dev']);
    const image = made.outputs['release-image']!;
    const repository = image.slice(0, image.indexOf('@'));
    expect(repository).toBe(`${registry.host}/releases/${repositoryName(`file://${repo.dir}`)}/api`);
    const manifest = JSON.parse(await crane(['manifest', '--insecure', image])) as { config: { mediaType: string }; layers: { mediaType: string; annotations: Record<string, string> }[] };
    expect(manifest.config.mediaType).toBe(RELEASE_METADATA);
    expect(manifest.layers.map((l) => [l.mediaType, l.annotations['org.catalyst-forge.layer.type']])).toEqual([[RESOURCES_LAYER, 'resources']]);
    const metadata = JSON.parse(await crane(['config', '--insecure', image])) as { release: unknown; artifacts: unknown[] };
    expect(metadata.release).toEqual({ number: 1, aliases: { numeric: '1', branch: 'main-1' }, trigger: 'branch' });
    expect(metadata.artifacts).toEqual([{ name: 'api-server', trackingUri: artifact.tracking.uri, digest: artifact.digest }]);
    const tags = (await crane(['ls', '--insecure', repository])).split('\n').filter((t) => !t.startsWith('sha256-')).sort();
    expect(tags).toEqual(['1', repo.commit, 'main-1'].sort());

    // forge-deploy to dev: the policy check, then the pointer.
    const deploy = ['--project', 'api', '--environment', 'dev', '--release', repo.commit, '--deployed-by', 'workflow/forge/forge-release-rel-1'];
    const check = await task('rel-1', 'deploy-plan', deploy);
    expect(check.code, check.output).toBe(0);
    expect(check.outputs['needs-approval']).toBe('false');
    const deployed = await task('rel-1', 'deploy', deploy);
    expect(deployed.code, deployed.output).toBe(0);
    const pointer = deployed.outputs.pointer!;
    expect(pointer).toBe(`environments/dev/${repositoryName(`file://${repo.dir}`)}/api/release.yaml`);
    const clone = join(tmp, 'gitops-clone');
    await git(['clone', '-q', gitops, clone]);
    expect(await git(['log', '-1', '--format=%H%n%s', 'main'], clone)).toBe(`${deployed.outputs['pointer-commit']}\nDeploy api to dev: release 1 (main-1)`);
    expect(YAML.parse(await readFile(join(clone, pointer), 'utf8'))).toMatchObject({ kind: 'ReleasePointer', metadata: { name: 'api', environment: 'dev' }, spec: { release: repo.commit, aliases: { numeric: 1, branch: 'main-1' } } });

    // What Argo CD's plugin prints for that directory: the Deployment runs the promoted image by digest.
    const path = pointer.slice(0, pointer.lastIndexOf('/'));
    const cmp = await execa(process.execPath, [FORGE, 'cmp', 'generate', '--dir', join(clone, path), '--path', path, '--release-registry', `${registry.host}/releases`, '--key', keys.release.publicKey, '--transparency-log', 'false'], { env: { PATH } });
    const objects = YAML.parseAllDocuments(cmp.stdout).map((d) => d.toJS() as { kind: string; metadata: { annotations?: Record<string, string> }; spec?: { template?: { spec?: { containers?: { image: string }[] } } } });
    expect(objects.map((o) => o.kind)).toEqual(['Deployment', 'Service']);
    // A publisher's output reached the rendering too.
    expect(objects[0]!.metadata.annotations).toEqual({ 'forge.dev/image-tag': `sha-${repo.commit}` });
    expect(objects[0]!.spec!.template!.spec!.containers![0]!.image).toBe(`${registry.host}/trusted/forge-demo/api/api-server@${artifact.digest}`);
  }, 600_000);

  test('the same commit again is the same release: no new number, no new tag, no new pointer commit', async () => {
    const before = (await crane(['ls', '--insecure', `${registry.host}/releases/${repositoryName(`file://${repo.dir}`)}/api`])).split('\n').sort();
    const { made } = await releaseRun('rel-2');
    expect(made.code, made.output).toBe(0);
    expect(made.output).toMatch(/release 1 \(1, main-1\) already made/);
    expect((await crane(['ls', '--insecure', `${registry.host}/releases/${repositoryName(`file://${repo.dir}`)}/api`])).split('\n').sort()).toEqual(before);
    const deployed = await task('rel-2', 'deploy', ['--project', 'api', '--environment', 'dev', '--release', '1', '--deployed-by', 'workflow/forge/forge-release-rel-2']);
    expect(deployed.code, deployed.output).toBe(0);
    expect(deployed.outputs['pointer-commit']).toBe('');
    expect(deployed.output).toMatch(/already named it \(no commit\)/);
  }, 600_000);

  test('no partial release: a release whose artifact never ran, or a deployment the policy refuses, makes nothing', async () => {
    const orphan = await task('rel-3', 'release', release);
    expect(orphan.code).toBe(1);
    expect(orphan.output).toMatch(/artifact api-server of api has no successful build in this run \(job artifact--api--api-server: never ran\): no partial release is made/);
    // (Another run: the failed release cancelled the rest of rel-3, as fail-fast does.)
    const prod = await task('rel-4', 'deploy-plan', ['--project', 'api', '--environment', 'production', '--release', '1', '--deployed-by', 'someone']);
    expect(prod.code).toBe(1);
    expect(prod.output).toMatch(/production takes releases made by tag, manual; this one was made by branch_push/);
  }, 120_000);

  test('a protected environment waits for an approval: refused without one, deployed with who approved it', async () => {
    const deploy = ['--project', 'api', '--environment', 'prod', '--release', 'main-1', '--deployed-by', 'workflow/forge/forge-deploy-p'];
    const check = await task('dep-1', 'deploy-plan', deploy);
    expect(check.code, check.output).toBe(0);
    // forge-deploy's suspend node runs when this is true.
    expect(check.outputs['needs-approval']).toBe('true');
    expect(check.output).toMatch(/waiting for an approval: prod needs an active approval of release 1 .*forge approve prod/);
    // Resumed without an approval: the deploy job checks again and refuses.
    const early = await task('dep-2', 'deploy', deploy);
    expect(early.code).toBe(1);
    expect(early.output).toMatch(/prod needs an active approval of release 1/);
    const approve = await execa(process.execPath, [FORGE, 'approve', 'prod', repositoryName(`file://${repo.dir}`), 'api', '1', '--by', 'alice@example.test', '--reason', 'change 42 signed off', '--database-url', dbUrl], { reject: false });
    expect(approve.exitCode, approve.stdout + approve.stderr).toBe(0);
    expect((await task('dep-3', 'deploy-plan', deploy)).outputs['needs-approval']).toBe('false');
    const deployed = await task('dep-3', 'deploy', deploy);
    expect(deployed.code, deployed.output).toBe(0);
    const clone = join(tmp, 'gitops-prod');
    await git(['clone', '-q', gitops, clone]);
    expect(YAML.parse(await readFile(join(clone, deployed.outputs.pointer!), 'utf8')).spec).toMatchObject({ release: repo.commit, deployedBy: 'workflow/forge/forge-deploy-p', approvedBy: 'alice@example.test' });
  }, 120_000);
});
