/**
 * `npm run bench -- release`: what exists of the release path so far. (1) The Argo CD plugin's
 * `generate` on a release of 50 manifests whose resources layer is about 1 MB, warm (target
 * < 300 ms), against the least any reader pays: `oras pull` of the same image. (2) Pointer
 * updates to one GitOps repository by 20 writers at once, against the same 20 one after another.
 * (3) The release itself: 3 artifacts and 50 manifests through the pools (release-time.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { generate } from '../../steps/cmp/generate.ts';
import { generateKeyPair, signImage } from '../../steps/lib/cosign.ts';
import { runTool } from '../../steps/lib/exec.ts';
import { pushRelease } from '../../steps/lib/release/release-image.ts';
import { updatePointer } from '../../steps/lib/release/pointer.ts';
import { packResources, sha256 } from '../../steps/lib/release/resources-layer.ts';
import { createGitopsRepo } from '../helpers/gitops.ts';
import { startRegistry } from '../helpers/registry.ts';
import { releaseTime } from './release-time.ts';

const MANIFESTS = 50;
const WRITERS = 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const commit = 'a'.repeat(40);

/** A ConfigMap of about 27 KB of random text: 50 of them make a resources layer of about 1 MB gzip. */
function manifest(i: number): { name: string; content: string } {
  const data = Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`key-${k}`, randomBytes(1000).toString('base64')]));
  return { name: `configmap-${i}.yaml`, content: YAML.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `config-${i}` }, data }) };
}

async function generateLatency(dir: string, log: (l: string) => void): Promise<{ p50: number; pull: number; bytes: number }> {
  const registry = await startRegistry();
  try {
    await mkdir(join(dir, 'keys'));
    const keys = await generateKeyPair(join(dir, 'keys'));
    const files = Array.from({ length: MANIFESTS }, (_, i) => manifest(i));
    const bytes = files.reduce((n, f) => n + f.content.length, 0);
    const layer = await packResources(files);
    const repo = `${registry.host}/release/acme/monorepo/api`;
    const { digest } = await pushRelease(repo, [commit], {
      apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleaseMetadata', repository: 'acme/monorepo', project: 'api',
      release: { number: 1, aliases: { numeric: '1' }, trigger: 'branch' }, source: { repositoryUrl: 'https://git.example.test/acme/monorepo.git', commit },
      artifacts: [], resources: { digest: sha256(layer), files: files.length }, createdAt: '2026-11-29T00:00:00Z',
    }, layer);
    await signImage(`${repo}@${digest}`, { key: keys.privateKey, transparencyLog: false });
    const app = join(dir, 'gitops', 'environments/dev/acme/monorepo/api');
    await mkdir(app, { recursive: true });
    await writeFile(join(app, 'release.yaml'), YAML.stringify({ apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleasePointer', metadata: { name: 'api', environment: 'dev' }, spec: { release: commit } }));
    const opts = { dir: app, path: 'environments/dev/acme/monorepo/api', releaseRegistry: `${registry.host}/release`, verify: { key: keys.publicKey, transparencyLog: false } };
    const times: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t = performance.now();
      const out = await generate(opts);
      if (i > 0) times.push(performance.now() - t); // the first warms the registry and page cache
      if (out.objects !== MANIFESTS) throw new Error(`generate printed ${out.objects} objects`);
    }
    const pulls: number[] = [];
    for (let i = 0; i < 11; i++) {
      const out = join(dir, `pull-${i}`);
      const t = performance.now();
      await runTool('oras', ['pull', '--plain-http', '--output', out, `${repo}:${commit}`]);
      if (i > 0) pulls.push(performance.now() - t);
    }
    log(`cmp generate of ${MANIFESTS} manifests (${(bytes / 1024).toFixed(0)} KiB of YAML, layer ${(layer.length / 1024).toFixed(0)} KiB gzip): p50 ${median(times).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)} ms over 10 warm runs; oras pull of the same image p50 ${median(pulls).toFixed(0)} ms`);
    return { p50: median(times), pull: median(pulls), bytes };
  } finally {
    await registry.stop();
  }
}

async function pointerThroughput(dir: string, log: (l: string) => void): Promise<{ concurrent: number; sequential: number }> {
  const remote = await createGitopsRepo(dir);
  const update = (i: number, round: string) =>
    updatePointer({ environment: 'dev', repository: 'acme/monorepo', project: `p${i}`, release: round.repeat(40), aliases: { numeric: 1 }, deployedBy: 'bench' }, { url: remote, maxAttempts: 50 });
  let t = performance.now();
  for (let i = 0; i < WRITERS; i++) await update(i, 'b');
  const sequential = WRITERS / ((performance.now() - t) / 1000);
  t = performance.now();
  const results = await Promise.all(Array.from({ length: WRITERS }, (_, i) => update(i, 'c')));
  const concurrent = WRITERS / ((performance.now() - t) / 1000);
  const retries = results.reduce((n, r) => n + r.attempts - 1, 0);
  log(`pointer updates: ${WRITERS} one after another ${sequential.toFixed(1)}/s; ${WRITERS} at once ${concurrent.toFixed(1)}/s (${retries} pushes retried after losing a race, none forced)`);
  return { concurrent, sequential };
}

export async function benchRelease(log: (line: string) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-bench-release-'));
  try {
    const r = await releaseTime(dir, log);
    const g = await generateLatency(dir, log);
    const p = await pointerThroughput(dir, log);
    return `release: 3 artifacts + ${MANIFESTS} manifests in ${r.parallelS.toFixed(1)} s (artifacts one after another ${r.sequentialS.toFixed(1)} s, ${(r.sequentialS / r.parallelS).toFixed(1)}×); cmp generate p50 ${g.p50.toFixed(0)} ms (oras pull alone ${g.pull.toFixed(0)} ms); ${WRITERS} writers ${p.concurrent.toFixed(1)} updates/s (one at a time ${p.sequential.toFixed(1)}/s)`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
