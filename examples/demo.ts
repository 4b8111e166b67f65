/**
 * `npm run demo`: the pipeline so far, on examples/monorepo, against a local git server-less
 * remote (a bare repository reached through file://). Run after the toolchain installer.
 *
 *   1. synthesize every manifest (dist/manifests/)
 *   2. publish examples/monorepo as a commit of a local bare repository
 *   3. run discovery exactly as the forge-discovery step does (URL + commit + branch), writing
 *      the Argo output files, and print what each phase-group slot will run
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
import { toolPath } from '../steps/lib/tools.ts';

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
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  say('Done. Manifests are in dist/manifests/; see docs/ for what comes next.');
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${isForgeError(e) ? e.format() : ((e as Error).stack ?? String(e))}\n`);
  process.exitCode = 1;
});
