/**
 * A release on the real cluster: forge-pipeline on a release-triggering commit of
 * examples/monorepo runs its groups, then forge-release for api on the artifact and release
 * pools (the image built onto the step image without Docker, signed by the build key, tracked),
 * forge-verify-and-promote of that image (the platform scanner's attestation made by this test,
 * which the scan gate waits for), the release (recorded in PostgreSQL, the signed Release OCI
 * image) and forge-deploy to dev, which commits the GitOps pointer. The Argo CD plugin's output
 * for the pointer is then applied to the cluster: the api Deployment becomes Ready running the
 * promoted image by digest.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../steps/lib/cosign.ts';
import { crane } from '../../steps/lib/crane.ts';
import { repositoryName } from '../../steps/lib/release/repository-name.ts';
import { toolPath } from '../../steps/lib/tools.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { attestScan, trivyReport } from '../helpers/trivy.ts';
import { allowPlainHttpRegistry } from './config-files.ts';
import { argo, e2eEnv, ensureNamespace, getWorkflow, gitDaemon, kubectl, REPO_ROOT, run, submittedName, type E2eEnv } from './e2e-env.ts';
import { deployPools, removePools, workerLogs } from './pools.ts';

const FORGE = path.join(REPO_ROOT, 'bin/forge.mjs');
const KEY_PASSWORD = 'forge-e2e-keys';
const APPS_NAMESPACE = 'forge-e2e-apps';
let env: E2eEnv;
let tmp: string;
let registry: Registry | undefined;
let postgres: PostgresServer | undefined;
let daemon: Awaited<ReturnType<typeof gitDaemon>> | undefined;
let repoUrl: string;
let databaseUrl: string;
let commit: string;
let scanner: ReturnType<typeof startScanner> | undefined;
const keys = {} as Record<'build' | 'release' | 'scanner' | 'promotion', { privateKey: string; publicKey: string }>;
const insecureBefore = process.env.FORGE_INSECURE_REGISTRIES;

async function git(args: string[]): Promise<string> {
  const r = await run(toolPath('git'), args, { env: { GIT_AUTHOR_NAME: 'forge e2e', GIT_AUTHOR_EMAIL: 'e2e@forge.invalid', GIT_COMMITTER_NAME: 'forge e2e', GIT_COMMITTER_EMAIL: 'e2e@forge.invalid' } });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The base the api image is built on: the step image (node and user 65532), pushed to the test's registry. */
async function pushBase(host: string): Promise<string> {
  const ref = `${host}/base/forge-steps:e2e`;
  if (process.env.FORGE_E2E_BASE_IMAGE) return process.env.FORGE_E2E_BASE_IMAGE;
  const paths = JSON.parse(execFileSync(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--paths'], { encoding: 'utf8' })) as { images: Record<string, { archive: string }> };
  const layout = path.join(tmp, 'steps-layout');
  fs.mkdirSync(layout);
  await execa('tar', ['-xf', paths.images.steps!.archive, '-C', layout]);
  await crane(['push', '--insecure', layout, ref]);
  return ref;
}

/** The platform scanner, played by the test: attests each image that arrives in the incoming registry. */
function startScanner(images: string[]): { stop(): void; attested: string[]; errors: string[] } {
  const attested: string[] = [];
  const errors: string[] = [];
  let stopped = false;
  void (async () => {
    while (!stopped && attested.length < images.length) {
      for (const image of images.filter((i) => !attested.includes(i))) {
        const digest = await crane(['digest', '--insecure', image]).then((d) => d.trim(), () => undefined);
        if (!digest) continue;
        const repository = image.slice(0, image.lastIndexOf(':'));
        await attestScan(`${repository}@${digest}`, trivyReport(repository, digest, '65532'), keys.scanner.privateKey).then(
          () => attested.push(image),
          (e: Error) => errors.push(e.message),
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return { stop: () => void (stopped = true), attested, errors };
}

beforeAll(async () => {
  env = e2eEnv();
  const host = env.gitListen;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-release-'));
  [registry, postgres] = await Promise.all([startRegistry({ host }), startPostgres({ host, trustFrom: [env.podNetwork] })]);
  // The node pulls the promoted api image from this registry, over plain HTTP.
  allowPlainHttpRegistry(registry.host);
  process.env.FORGE_INSECURE_REGISTRIES = registry.host;
  const ownerUrl = await postgres.createDatabase('forge_records');
  await postgres.query('CREATE ROLE forge_step LOGIN');
  await execa(process.execPath, [FORGE, 'records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'forge_step']);
  databaseUrl = ownerUrl.replace(/^postgresql:\/\/[^@]+@/, 'postgresql://forge_step@');
  // The cluster's keys are encrypted (their passwords are Secret keys); the test's scanner's is not.
  for (const k of ['build', 'release', 'scanner', 'promotion'] as const) {
    const dir = fs.mkdtempSync(path.join(tmp, `${k}-`));
    const password = k === 'scanner' ? '' : KEY_PASSWORD;
    keys[k] = await generateKeyPair(dir, password);
    fs.writeFileSync(path.join(dir, 'cosign.password'), password);
  }
  const base = await pushBase(registry.host);

  // The repository (the example, publishing to this registry) and the GitOps repository, served by git daemon.
  const served = path.join(tmp, 'served');
  fs.mkdirSync(served);
  const work = path.join(tmp, 'monorepo');
  fs.cpSync(path.join(REPO_ROOT, 'examples/monorepo'), work, { recursive: true });
  const repoCue = path.join(work, '.forge/repo.cue');
  fs.writeFileSync(repoCue, fs.readFileSync(repoCue, 'utf8').replace('"localhost:5000"', JSON.stringify(registry.host)));
  await git(['-C', work, 'init', '-q', '--initial-branch=main']);
  await git(['-C', work, 'add', '-A']);
  await git(['-C', work, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'examples/monorepo']);
  commit = await git(['-C', work, 'rev-parse', 'HEAD']);
  await git(['clone', '-q', '--bare', work, path.join(served, 'monorepo.git')]);
  const seed = path.join(tmp, 'gitops-seed');
  fs.mkdirSync(seed);
  fs.writeFileSync(path.join(seed, 'README.md'), '# environments\n');
  await git(['-C', seed, 'init', '-q', '--initial-branch=main']);
  await git(['-C', seed, 'add', '-A']);
  await git(['-C', seed, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'gitops']);
  await git(['clone', '-q', '--bare', seed, path.join(served, 'gitops.git')]);
  daemon = await gitDaemon(served, env.gitListen, { push: true });
  repoUrl = daemon.url('monorepo.git');
  const gitopsUrl = daemon.url('gitops.git');

  // The Secrets the release workers and the promotion's attest pod mount, before they start.
  await ensureNamespace(env);
  const secret = async (args: string[]) =>
    kubectl(env, ['-n', env.namespace, 'apply', '-f', '-'], await kubectl(env, ['-n', env.namespace, 'create', 'secret', 'generic', ...args, '--dry-run=client', '-o', 'yaml']));
  for (const [name, k] of [['forge-build-key', keys.build], ['forge-release-key', keys.release], ['forge-promotion-key', keys.promotion]] as const) {
    await secret([name, `--from-file=cosign.key=${k.privateKey}`, `--from-file=cosign.password=${path.join(path.dirname(k.privateKey), 'cosign.password')}`]);
  }
  await secret(['forge-records-db', `--from-literal=url=${databaseUrl}`]);

  const pem = (k: { publicKey: string }) => fs.readFileSync(k.publicKey, 'utf8');
  const registryHost = registry.host;
  await deployPools(env, tmp, {
    release: {
      templates: ['forge-release', 'forge-deploy', 'forge-verify-and-promote'],
      charts: ['promotion'],
      adjust: (config) => {
        config.registries = { incoming: registryHost, trusted: `${registryHost}/trusted`, tracking: `${registryHost}/tracking`, release: `${registryHost}/releases`, insecure: [registryHost] };
        config.promotion = {
          transparencyLog: false,
          // What releases build is signed by the build key.
          verificationKeys: { build: { publicKey: pem(keys.build) } },
          scanPolicies: { default: { threshold: 'HIGH' } },
          promotionPolicies: { default: { maxSize: '2GiB' } },
          attestationPublicKey: { publicKey: pem(keys.promotion) },
          attestationSigningKey: { secret: { name: 'forge-promotion-key' } },
          database: { secret: { name: 'forge-records-db', key: 'url' } },
          timeoutSeconds: 900,
          scanner: { publicKey: pem(keys.scanner) },
          scanWaitSeconds: 300,
        };
        config.release = {
          buildSigningKey: { secret: { name: 'forge-build-key' } },
          releaseSigningKey: { secret: { name: 'forge-release-key' } },
          releaseVerificationKey: { publicKey: pem(keys.release) },
          database: { secret: { name: 'forge-records-db', key: 'url' } },
          gitops: { url: gitopsUrl, branch: 'main' },
          environments: {
            dev: { allowedTriggers: ['branch_push', 'tag', 'manual'], autoDeploy: true },
            // Takes main's releases, once a person approves (forge-deploy's suspend node).
            prod: { allowedTriggers: ['branch_push', 'tag', 'manual'], allowedBranches: ['main'], requiresApproval: true },
          },
          baseImage: base,
          timeoutSeconds: 1800,
        };
      },
    },
  });
  scanner = startScanner([`${registry.host}/forge-demo/api/api-server:sha-${commit}`]);
}, 900_000);

afterAll(async () => {
  scanner?.stop();
  await kubectl(env, ['delete', 'namespace', APPS_NAMESPACE, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  await daemon?.stop();
  if (env) await removePools(env);
  await Promise.all([registry?.stop(), postgres?.stop()]);
  if (insecureBefore === undefined) delete process.env.FORGE_INSECURE_REGISTRIES;
  else process.env.FORGE_INSECURE_REGISTRIES = insecureBefore;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 300_000);

describe('forge-pipeline releases api on the real cluster', () => {
  it('builds, promotes, releases and deploys to dev; the plugin output runs the promoted image', async () => {
    const submit = await argo(env, ['submit', '--from', 'workflowtemplate/forge-pipeline', '-o', 'name', '--wait', '-p', `repo-url=${repoUrl}`, '-p', `commit=${commit}`, '-p', 'branch=main'], 1_500_000);
    const name = submittedName(submit);
    const wf = await getWorkflow(env, name);
    const nodes = Object.values(wf.status.nodes ?? {});
    if (wf.status.phase !== 'Succeeded') {
      const logs = await argo(env, ['logs', name, '--no-color'], 60_000);
      const table = nodes.map((n) => `  ${n.displayName} ${n.type} ${n.phase}${n.message ? `: ${n.message}` : ''}`).join('\n');
      throw new Error(`${name} ended ${wf.status.phase}: ${wf.status.message ?? ''}\nscanner: ${scanner!.attested.length} attested, errors: ${scanner!.errors.join('; ') || 'none'}\n${table}\n${logs.stdout}\n${await workerLogs(env, 'artifact')}\n${await workerLogs(env, 'release')}`);
    }
    const ran = (template: string) => nodes.filter((n) => n.type === 'Pod' && (n.templateName ?? n.templateRef?.template) === template && n.phase === 'Succeeded').length;
    // The release stage's nodes, each once: plan, the artifact, the promotion's gates, the release, the deployment.
    for (const t of ['plan', 'artifact', 'resolve', 'verify', 'scan', 'policy', 'copy', 'attest', 'record', 'release', 'check', 'deploy']) expect(ran(t), t).toBe(1);
    expect(nodes.find((n) => n.displayName === 'approval')?.phase ?? 'Skipped').toMatch(/Skipped|Omitted/);
    expect(scanner!.attested).toHaveLength(1);

    // The pointer the deploy job committed.
    const clone = path.join(tmp, 'gitops-clone');
    await git(['clone', '-q', path.join(tmp, 'served', 'gitops.git'), clone]);
    const pointerDir = path.join('environments', 'dev', repositoryName(repoUrl), 'api');
    const pointer = YAML.parse(fs.readFileSync(path.join(clone, pointerDir, 'release.yaml'), 'utf8')) as { spec: Record<string, unknown> };
    expect(pointer.spec).toMatchObject({ release: commit, aliases: { numeric: 1, branch: 'main-1' }, deployedBy: `workflow/${env.namespace}/${name}` });
    expect(await git(['-C', clone, 'log', '-1', '--format=%s'])).toBe('Deploy api to dev: release 1 (main-1)');

    // What the Argo CD plugin prints for that directory, applied: api runs the promoted image by digest.
    const generated = await execa(process.execPath, [FORGE, 'cmp', 'generate', '--dir', path.join(clone, pointerDir), '--path', pointerDir, '--release-registry', `${registry!.host}/releases`, '--key', keys.release.publicKey, '--transparency-log', 'false']);
    const deployment = YAML.parseAllDocuments(generated.stdout).map((d) => d.toJS() as { kind: string; spec?: { template: { spec: { containers: { image: string }[] } } } }).find((o) => o.kind === 'Deployment')!;
    const image = deployment.spec!.template.spec.containers[0]!.image;
    expect(image).toMatch(new RegExp(`^${registry!.host.replace(/[.]/g, '\\.')}/trusted/forge-demo/api/api-server@sha256:[0-9a-f]{64}$`));
    await kubectl(env, ['create', 'namespace', APPS_NAMESPACE]).catch(() => undefined);
    await kubectl(env, ['-n', APPS_NAMESPACE, 'apply', '-f', '-'], generated.stdout);
    await kubectl(env, ['-n', APPS_NAMESPACE, 'rollout', 'status', 'deployment/api', '--timeout=180s']).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await kubectl(env, ['-n', APPS_NAMESPACE, 'describe', 'pods', '-l', 'app=api']).catch((x: Error) => x.message)}`);
    });
    const pods = JSON.parse(await kubectl(env, ['-n', APPS_NAMESPACE, 'get', 'pods', '-l', 'app=api', '-o', 'json'])) as { items: { status: { containerStatuses: { ready: boolean; imageID: string }[] } }[] };
    expect(pods.items[0]!.status.containerStatuses[0]).toMatchObject({ ready: true });
    expect(pods.items[0]!.status.containerStatuses[0]!.imageID).toContain(image.slice(image.indexOf('@') + 1));

    // For the closing note: the release image's manifest and metadata, the pointer commit, the plugin's output.
    const releaseImage = `${registry!.host}/releases/${repositoryName(repoUrl)}/api:${commit}`;
    const summary = [
      `$ argo get ${name}`, (await argo(env, ['get', name, '--no-color'])).stdout,
      `$ crane manifest ${releaseImage}`, await crane(['manifest', '--insecure', releaseImage]),
      `$ crane config ${releaseImage}`, await crane(['config', '--insecure', releaseImage]),
      `$ crane ls ${releaseImage.slice(0, releaseImage.lastIndexOf(':'))}`, await crane(['ls', '--insecure', releaseImage.slice(0, releaseImage.lastIndexOf(':'))]),
      ...(await (async () => {
        const metadata = JSON.parse(await crane(['config', '--insecure', releaseImage])) as { artifacts: { trackingUri: string }[] };
        const tracking = metadata.artifacts[0]!.trackingUri;
        return [`$ crane manifest ${tracking}`, await crane(['manifest', '--insecure', tracking])];
      })()),
      '$ git show --stat HEAD (GitOps repository)', await git(['-C', clone, 'show', '--stat', 'HEAD']),
      `$ forge cmp generate (${pointerDir})`, generated.stdout,
      `$ kubectl -n ${APPS_NAMESPACE} get deployment api`, await kubectl(env, ['-n', APPS_NAMESPACE, 'get', 'deployment', 'api', '-o', 'wide']),
    ];
    fs.writeFileSync(path.join(os.tmpdir(), 'forge-e2e-release.txt'), summary.join('\n'));
  }, 1_800_000);

  it('forge-deploy to a protected environment waits in its suspend node; resumed, it deploys only with an active approval', async () => {
    const submit = async () => submittedName(await argo(env, ['submit', '--from', 'workflowtemplate/forge-deploy', '-o', 'name', '-p', `repo-url=${repoUrl}`, '-p', 'project=api', '-p', 'environment=prod', '-p', 'release=main-1']));
    const suspended = async (name: string) => {
      const deadline = Date.now() + 180_000;
      for (;;) {
        const wf = await getWorkflow(env, name);
        const approval = Object.values(wf.status.nodes ?? {}).find((n) => n.displayName === 'approval');
        if (approval?.phase === 'Running' && approval.type === 'Suspend') return;
        // No phase yet: the controller has not picked the workflow up.
        if (wf.status.phase && wf.status.phase !== 'Running' && wf.status.phase !== 'Pending') throw new Error(`${name} ended ${wf.status.phase} before its approval node: ${wf.status.message ?? ''}`);
        if (Date.now() > deadline) throw new Error(`${name} never reached its approval node`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    };
    const finished = async (name: string) => {
      await argo(env, ['wait', name], 300_000);
      return getWorkflow(env, name);
    };

    // Resumed without an approval: the deploy node refuses, nothing is committed.
    const early = await submit();
    await suspended(early);
    await argo(env, ['resume', early]);
    const refused = await finished(early);
    expect(refused.status.phase).toBe('Failed');
    const deployNode = Object.values(refused.status.nodes ?? {}).find((n) => n.displayName === 'deploy');
    expect(deployNode?.message).toMatch(/prod needs an active approval of release 1/);

    // Approved (the approver's identity recorded), then resumed: deployed, the approver in the pointer.
    const name = await submit();
    await suspended(name);
    const approve = await execa(process.execPath, [FORGE, 'approve', 'prod', repositoryName(repoUrl), 'api', '1', '--by', 'alice@example.test', '--reason', 'e2e: change signed off', '--database-url', databaseUrl], { reject: false });
    expect(approve.exitCode, approve.stdout + approve.stderr).toBe(0);
    await argo(env, ['resume', name]);
    const done = await finished(name);
    expect(done.status.phase, done.status.message).toBe('Succeeded');
    const clone = path.join(tmp, 'gitops-prod');
    await git(['clone', '-q', path.join(tmp, 'served', 'gitops.git'), clone]);
    const pointer = YAML.parse(fs.readFileSync(path.join(clone, 'environments', 'prod', repositoryName(repoUrl), 'api', 'release.yaml'), 'utf8')) as { spec: Record<string, unknown> };
    expect(pointer.spec).toMatchObject({ release: commit, approvedBy: 'alice@example.test', deployedBy: `workflow/${env.namespace}/${name}` });
  }, 900_000);
});
