/**
 * The release itself, for `npm run bench -- release`: a project with 3 artifacts (binaries of
 * 4 MiB each, published as OCI artifacts, each with its syft SBOM, provenance and signed tracking
 * image) and 50 manifests, released through real pools — forge-release's nodes as their
 * dispatcher processes (plan, the 3 artifact jobs at once on an artifact worker with 3 slots,
 * the release job), NATS, PostgreSQL, a registry. The baseline, in the same run: the same work
 * with the artifact jobs one after another (a second commit, so nothing is reused).
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { startNats } from '../../steps/local/nats.ts';
import { generateKeyPair } from '../../steps/lib/cosign.ts';
import { openDatabase } from '../../steps/lib/records/db.ts';
import { createRepo } from '../helpers/git-repo.ts';
import { runDispatch, startWorker } from '../helpers/pool.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { startRegistry } from '../helpers/registry.ts';

const ARTIFACTS = ['tool-a', 'tool-b', 'tool-c'];
const MANIFESTS = 50;

function repoFiles(registry: string): Record<string, string> {
  const artifacts = ARTIFACTS.map((a) => `artifacts: "${a}": {type: "binary", producer: script: {target: "node", args: ["make.mjs", "${a}"]}, publishers: bin: {}}`).join('\n');
  const resources = Array.from({ length: MANIFESTS }, (_, i) => {
    const a = ARTIFACTS[i % ARTIFACTS.length]!;
    return `{apiVersion: "v1", kind: "ConfigMap", metadata: name: "config-${i}", data: {uri: forge.artifacts["${a}"].uri, digest: forge.artifacts["${a}"].digest}}`;
  });
  return {
    '.forge/repo.cue': `package repo\nforgeVersion: "v1.0.0"\ntagging: strategy: "monorepo"\nphases: build: {group: 1, timeout: "10m"}\npublishers: bin: {type: "docker", registry: "${registry}", namespace: "bench"}\n`,
    'svc/.forge/project.cue': `package project\nname: "svc"\nci: phases: build: noop: {action: "script", target: "node", args: ["-e", "0"]}\n${artifacts}\nrelease: on: [{branch: "main"}]\ndeployment: resources: [\n\t${resources.join(',\n\t')},\n]\n`,
    // A producer: 4 MiB of bytes that differ per artifact and per commit (no reuse across the two runs).
    'svc/make.mjs': `import { createHash } from 'node:crypto';\nimport { writeFileSync } from 'node:fs';\nconst name = process.argv[2];\nconst seed = createHash('sha256').update(name + process.env.FORGE_COMMIT).digest();\nconst out = Buffer.alloc(4 * 1024 * 1024);\nfor (let i = 0; i < out.length; i += 32) seed.copy(out, i, 0, Math.min(32, out.length - i));\nwriteFileSync(process.env.FORGE_ARTIFACT_DIR + '/' + name, out);\nwriteFileSync(process.env.FORGE_ARTIFACT_DIR + '/artifact.json', JSON.stringify({ os: 'linux', arch: 'amd64' }));\n`,
  };
}

export interface ReleaseTime {
  parallelS: number;
  sequentialS: number;
  phases: { planS: number; artifactsS: number; releaseS: number };
}

export async function releaseTime(dir: string, log: (l: string) => void): Promise<ReleaseTime> {
  const [nats, pg, registry] = await Promise.all([startNats(), startPostgres(), startRegistry()]);
  const workers = [];
  try {
    const keysDir = join(dir, 'release-keys');
    await mkdir(keysDir, { recursive: true });
    const build = await generateKeyPair(await mkdtemp(join(keysDir, 'build-')));
    const release = await generateKeyPair(await mkdtemp(join(keysDir, 'release-')));
    const dbUrl = await pg.createDatabase('forge_bench');
    await (await openDatabase({ url: dbUrl, schema: 'migrate' })).close();
    const repo = await createRepo(repoFiles(registry.host));
    const settings = join(dir, 'release-settings.yaml');
    await writeFile(settings, YAML.stringify({
      registries: { incoming: registry.host, trusted: `${registry.host}/trusted`, tracking: `${registry.host}/tracking`, release: `${registry.host}/releases` },
      buildKey: { key: build.privateKey }, releaseKey: { key: release.privateKey },
    }));
    const args = ['--release-settings', settings, '--database-url', dbUrl];
    workers.push(await startWorker({ natsUrl: nats.url, pool: 'artifact', name: 'bench-artifact', slots: ARTIFACTS.length, args }));
    workers.push(await startWorker({ natsUrl: nats.url, pool: 'release', name: 'bench-release', args }));
    await Promise.all(workers.map((w) => w.ready));

    const task = async (run: string, commit: string, kind: string, extra: string[]) => {
      const out = await mkdtemp(join(dir, `${kind}-`));
      const r = await runDispatch([kind, '--run-id', run, '--repo-url', `file://${repo.dir}`, '--commit', commit, '--nats-url', nats.url, '--outputs-dir', out, ...extra]).done;
      if (r.code !== 0) throw new Error(`${kind} failed:\n${r.output}`);
      const files: Record<string, string> = {};
      for (const f of await readdir(out)) files[f] = await readFile(join(out, f), 'utf8');
      return files;
    };
    const project = ['--project', 'svc', '--path', 'svc', '--branch', 'main'];
    const once = async (run: string, commit: string, parallel: boolean) => {
      const t0 = performance.now();
      const plan = await task(run, commit, 'release-plan', project);
      const t1 = performance.now();
      const items = JSON.parse(plan.artifacts!) as unknown[];
      if (parallel) await Promise.all(items.map((i) => task(run, commit, 'artifact', ['--task', JSON.stringify(i)])));
      else for (const i of items) await task(run, commit, 'artifact', ['--task', JSON.stringify(i)]);
      const t2 = performance.now();
      const made = await task(run, commit, 'release', project);
      const t3 = performance.now();
      if (made.number === undefined) throw new Error('the release job wrote no number');
      return { total: (t3 - t0) / 1000, planS: (t1 - t0) / 1000, artifactsS: (t2 - t1) / 1000, releaseS: (t3 - t2) / 1000 };
    };
    // A first release warms the worker's git cache and CUE (as a hot pool is).
    await once('bench-warm', repo.commit, true);
    const parallelCommit = await repo.commitFiles({ 'svc/README.md': 'parallel\n' });
    const p = await once('bench-parallel', parallelCommit, true);
    const sequentialCommit = await repo.commitFiles({ 'svc/README.md': 'sequential\n' });
    const s = await once('bench-sequential', sequentialCommit, false);
    log(`release of ${ARTIFACTS.length} artifacts (4 MiB binaries: published, SBOM, provenance, signed tracking image) + ${MANIFESTS} manifests: ${p.total.toFixed(1)} s (plan ${p.planS.toFixed(1)} s, artifacts at once ${p.artifactsS.toFixed(1)} s, release ${p.releaseS.toFixed(1)} s); artifacts one after another ${s.artifactsS.toFixed(1)} s, whole ${s.total.toFixed(1)} s`);
    await repo.cleanup();
    return { parallelS: p.total, sequentialS: s.total, phases: { planS: p.planS, artifactsS: p.artifactsS, releaseS: p.releaseS } };
  } finally {
    await Promise.all(workers.map((w) => w.cleanup()));
    await Promise.all([nats.stop(), pg.stop(), registry.stop()]);
  }
}
