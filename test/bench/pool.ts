/**
 * `npm run bench -- pool`: what hot pools buy. (1) Dispatch latency of 1000 jobs on 4 worker
 * processes (real nats-server), against the least a process-per-job design pays: starting the
 * step tool as a fresh process. (2) A warm checkout from a worker's git cache against a cold
 * clone of the same commit, on a generated repository of 20,000 commits and 5,000 files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { execa } from 'execa';
import { dispatch } from '../../steps/dispatch/dispatch.ts';
import { POOLS } from '../../steps/lib/pool/pools.ts';
import { startNats } from '../../steps/local/nats.ts';
import { GitCache } from '../../steps/worker/git-cache.ts';
import { startWorker } from '../helpers/pool.ts';
import { generatedHistory } from './git-history.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JOBS = 1000;
const WORKERS = 4;
const SLOTS = 4;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function dispatchLatency(log: (line: string) => void): Promise<{ p50: number; p99: number }> {
  const nats = await startNats();
  const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker({ natsUrl: nats.url, pool: 'ci', name: `bench-${i}`, slots: SLOTS })));
  const nc = await connect({ servers: nats.url });
  try {
    await Promise.all(workers.map((w) => w.ready));
    const one = (i: number) => {
      const t = performance.now();
      return dispatch({
        nc, pool: POOLS.ci, runId: 'bench', taskId: `ping-${i}`, repository: 'file:///unused', commit: '0'.repeat(40), task: { kind: 'ping' }, timeoutMs: 60_000,
        signal: new AbortController().signal, onLine: () => undefined, onNote: () => undefined, onProgress: () => undefined,
      }).then((r) => {
        if (r.result.status !== 'succeeded') throw new Error(`job ${r.job.id}: ${r.result.status} ${r.result.message}`);
        return performance.now() - t;
      });
    };
    for (let i = 0; i < 50; i++) await one(-1 - i); // warm up connections and JIT
    // One dispatcher per worker at a time: the latency of a free pool (on 2 cores, more at once
    // measures the CPU's queue, not the pool's).
    const times: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (next < JOBS) times.push(await one(next++));
    }));
    log(`dispatch: ${JOBS} jobs, ${WORKERS} workers × ${SLOTS} slots, ${WORKERS} dispatchers at a time, p50 ${pct(times, 50).toFixed(1)} ms, p90 ${pct(times, 90).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`);
    return { p50: pct(times, 50), p99: pct(times, 99) };
  } finally {
    await nc.close();
    await Promise.all(workers.map((w) => w.cleanup()));
    await nats.stop();
  }
}

/** The floor of a process per job: the step tool started fresh (the bundle, as a pod would run it). */
function processPerJob(log: (line: string) => void): number {
  const bundle = join(ROOT, 'dist/bundles/forge.mjs');
  if (!existsSync(bundle)) spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'steps/build.ts')], { stdio: 'ignore' });
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [bundle, 'summary', '--status', 'Succeeded'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`forge summary failed: ${r.stderr}`);
    times.push(performance.now() - t);
  }
  log(`process per job (node dist/bundles/forge.mjs summary): p50 ${pct(times, 50).toFixed(1)} ms over ${times.length} starts`);
  return pct(times, 50);
}

async function checkouts(log: (line: string) => void): Promise<{ warm: number; cold: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-bench-git-'));
  try {
    const t0 = performance.now();
    const { bare, commits } = await generatedHistory(dir, { commits: 20_000, files: 5_000 });
    log(`generated ${commits.length} commits × 5000 files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const url = `file://${bare}`;
    const cache = new GitCache(join(dir, 'cache'));
    await cache.prune();
    const first = await cache.checkout(url, commits.at(-1)!, 'prime');
    await first.release();
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const ws = await cache.checkout(url, commits[commits.length - 1 - i * 100]!, `warm-${i}`);
      warm.push(performance.now() - t);
      if (!ws.hit) throw new Error('expected a cache hit');
      await ws.release();
    }
    const cold: number[] = [];
    for (let i = 0; i < 3; i++) {
      const target = join(dir, `clone-${i}`);
      const t = performance.now();
      await execa('git', ['clone', '--quiet', '--no-local', url, target]);
      await execa('git', ['-C', target, 'checkout', '--quiet', '--detach', commits[commits.length - 1 - i * 100]!]);
      cold.push(performance.now() - t);
      await rm(target, { recursive: true, force: true });
    }
    log(`warm checkout (the mirror's worktree reset to another commit): p50 ${pct(warm, 50).toFixed(0)} ms; cold clone + checkout: p50 ${pct(cold, 50).toFixed(0)} ms`);
    return { warm: pct(warm, 50), cold: pct(cold, 50) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchPool(log: (line: string) => void): Promise<string> {
  const { p50, p99 } = await dispatchLatency(log);
  const proc = processPerJob(log);
  const { warm, cold } = await checkouts(log);
  return (
    `pool: dispatch p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms over ${JOBS} jobs on ${WORKERS} workers ` +
    `(process per job p50 ${proc.toFixed(0)} ms, ${(proc / p50).toFixed(1)}× faster); warm checkout ${warm.toFixed(0)} ms vs cold clone ${cold.toFixed(0)} ms (${(cold / warm).toFixed(1)}×)`
  );
}
