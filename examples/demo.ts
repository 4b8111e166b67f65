/**
 * `npm run demo`: the pipeline so far, on examples/monorepo, against a local git server-less
 * remote (a bare repository reached through file://). Run after the toolchain installer.
 *
 *   1. synthesize every manifest (dist/manifests/)
 *   2. publish examples/monorepo as a commit of a local bare repository
 *   3. run discovery exactly as the forge-discovery step does (URL + commit + branch), writing
 *      the Argo output files, and print what each phase-group slot will run
 *   4. run the phase groups on local hot pools: nats-server, two ci workers, a dispatcher per task
 *      (examples/pool-demo.ts)
 *   5. verify-and-promote an api-server image: two local registries (incoming, trusted), cosign
 *      keys made here, a one-layer image built with crane and signed, its scan report signed by a
 *      local scanner key as a vulnerability attestation, then promoted, attested and recorded
 *      (embedded PGlite); then an unsigned image, refused
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { simpleGit } from 'simple-git';
import { writeArgoOutputs } from '../steps/discover/cli.ts';
import { discover } from '../steps/discover/discover.ts';
import { formatTable } from '../steps/discover/format.ts';
import { isForgeError } from '../steps/lib/errors.ts';
import { generateKeyPair, signImage } from '../steps/lib/cosign.ts';
import { openDatabase } from '../steps/lib/records/db.ts';
import { PromotionRecords } from '../steps/lib/records/records.ts';
import { toolPath } from '../steps/lib/tools.ts';
import { promote, type PromoteConfig, type StepReport } from '../steps/promote/promote.ts';
import { buildImage } from '../steps/local/images.ts';
import { startRegistry } from '../steps/local/registry.ts';
import { attestScan, trivyReport } from '../steps/local/scan-attestation.ts';
import { poolDemo } from './pool-demo.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (s: string) => process.stdout.write(`\n\x1b[1m▶ ${s}\x1b[0m\n`);

async function publishExample(work: string): Promise<{ url: string; commit: string }> {
  const bare = join(work, 'monorepo.git');
  const tree = join(work, 'monorepo');
  await execa(toolPath('git'), ['init', '--bare', '--quiet', '--initial-branch=main', bare]);
  await cp(join(root, 'examples/monorepo'), tree, { recursive: true });
  const git = simpleGit({ baseDir: tree, binary: toolPath('git') });
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.email', 'demo@forge.invalid').addConfig('user.name', 'forge demo').addConfig('commit.gpgsign', 'false');
  await git.add(['-A']).commit('example monorepo').addRemote('origin', `file://${bare}`).push('origin', 'main');
  return { url: `file://${bare}`, commit: (await git.revparse(['HEAD'])).trim() };
}

/** verify-and-promote on two local registries, as `forge promote` runs it without a cluster. */
async function promoteDemo(work: string, commit: string): Promise<void> {
  say('verify-and-promote: starting an incoming and a trusted registry (docker-registry on loopback)');
  const [incoming, trusted] = await Promise.all([startRegistry(), startRegistry()]);
  const db = await openDatabase({ dataDir: join(work, 'records') });
  try {
    process.stdout.write(`incoming ${incoming.host}, trusted ${trusted.host}\n`);
    const developer = await generateKeyPair(await mkdtemp(join(work, 'developer-key-')));
    const promotion = await generateKeyPair(await mkdtemp(join(work, 'promotion-key-')));
    const repository = `${incoming.host}/forge-demo/api-server`;
    const digest = await buildImage(`${repository}:sha-${commit.slice(0, 12)}`, { user: '65532' });
    await signImage(`${repository}@${digest}`, { key: developer.privateKey, transparencyLog: false });
    process.stdout.write(`built and signed ${repository}:sha-${commit.slice(0, 12)} → ${digest}\n`);
    // Trivy's vulnerability database cannot be downloaded here: a report made elsewhere is signed by a
    // local scanner key as the image's vulnerability attestation, the only scan result the gate trusts.
    const scanner = await generateKeyPair(await mkdtemp(join(work, 'scanner-key-')));
    await attestScan(`${repository}@${digest}`, trivyReport(repository, digest, '65532', [{ id: 'CVE-2024-0001', pkg: 'zlib', severity: 'LOW' }]), scanner.privateKey);
    process.stdout.write(`scanner signed its report as the vulnerability attestation of ${digest}\n`);
    const config: PromoteConfig = {
      incoming: incoming.host,
      trusted: `${trusted.host}/forge`,
      verify: { key: developer.publicKey, transparencyLog: false },
      scanSource: { kind: 'attestation', scanner: { key: scanner.publicKey, transparencyLog: false, label: 'demo scanner' } },
      scan: {},
      policy: { maxCompressedBytes: 2 * 1024 ** 3 },
      attest: { key: promotion.privateKey, verifyKey: promotion.publicKey },
      workflow: { name: 'demo', uid: '' },
    };
    const records = new PromotionRecords(db);
    const print = (s: StepReport) => process.stdout.write(`${s.ok ? '✓' : '✗'} ${s.step.padEnd(8)} ${s.summary}  (${s.ms} ms)\n`);
    say(`forge promote ${repository}:sha-${commit.slice(0, 12)}`);
    const result = await promote(`${repository}:sha-${commit.slice(0, 12)}`, config, records, print);
    process.stdout.write(`promoted ${result.trustedReference}\nrecord ${result.recordId}\n`);

    say('forge promote of an unsigned image: refused, the trusted registry untouched');
    const unsigned = await buildImage(`${incoming.host}/forge-demo/unsigned:1.0.0`, { user: '65532' });
    await attestScan(`${incoming.host}/forge-demo/unsigned@${unsigned}`, trivyReport(`${incoming.host}/forge-demo/unsigned`, unsigned, '65532'), scanner.privateKey);
    await promote(`${incoming.host}/forge-demo/unsigned:1.0.0`, config, records, print).then(
      () => {
        throw new Error('the unsigned image was promoted');
      },
      (e: unknown) => process.stdout.write(`refused: ${isForgeError(e) ? e.format() : String(e)}\n`),
    );
  } finally {
    await db.close();
    await Promise.all([incoming.stop(), trusted.stop()]);
  }
}

async function main(): Promise<void> {
  say('Synthesizing the WorkflowTemplates (npm run synth)');
  await execa('node', ['--import', 'tsx', 'cdk8s/main.ts'], { cwd: root, stdio: 'inherit' });

  const work = await mkdtemp(join(tmpdir(), 'forge-demo-'));
  try {
    say('Publishing examples/monorepo to a local git repository');
    const { url, commit } = await publishExample(work);
    process.stdout.write(`${url} @ ${commit} (branch main)\n`);

    say('Discovery: forge discover --repo-url … --commit … --branch main');
    const t = performance.now();
    const result = await discover({ source: url, commit, branch: 'main' });
    process.stdout.write(formatTable(result.output));
    process.stdout.write(`(${Math.round(performance.now() - t)} ms; ${Buffer.byteLength(result.json)} bytes of discovery JSON)\n`);

    say('Argo output files of the discover step (what forge-pipeline fans out over)');
    const outputs = join(work, 'outputs');
    await mkdir(outputs);
    await writeArgoOutputs(outputs, result.output, result.json);
    for (const file of (await readdir(outputs)).filter((f) => f !== 'discovery.json').sort()) {
      process.stdout.write(`${file.padEnd(17)} ${(await readFile(join(outputs, file), 'utf8')).slice(0, 160)}\n`);
    }

    say('Same commit on tag api/v1.0.0: only the api project releases');
    const tagged = await discover({ source: url, commit, tag: 'api/v1.0.0' });
    process.stdout.write(`release projects: ${JSON.stringify(tagged.output.releaseProjects)}\n`);

    await poolDemo(work, url, result.output, say);

    await promoteDemo(work, commit);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  say('Done. Manifests are in dist/manifests/; see docs/ for what comes next.');
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${isForgeError(e) ? e.format() : ((e as Error).stack ?? String(e))}\n`);
  process.exitCode = 1;
});
