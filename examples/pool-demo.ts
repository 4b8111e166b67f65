/**
 * The demo's hot-pool part: forge-pipeline's phase groups of examples/monorepo, run the way the
 * cluster runs them — a real nats-server on loopback, two `ci` pool workers (in this process),
 * and one dispatcher per task, group after group, fail-fast — with every task's log as it arrives.
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { DiscoveryOutput } from '../steps/discover/contract.ts';
import { dispatch } from '../steps/dispatch/dispatch.ts';
import { createLogger } from '../steps/lib/log.ts';
import { POOLS } from '../steps/lib/pool/pools.ts';
import { startNats } from '../steps/local/nats.ts';
import { Worker } from '../steps/worker/worker.ts';

export async function poolDemo(work: string, repository: string, discovery: DiscoveryOutput, say: (s: string) => void): Promise<void> {
  say('Hot pools: nats-server (JetStream) on loopback and two ci workers with their git caches');
  const nats = await startNats();
  const log = createLogger('worker', 'warn');
  const nc = await connect({ servers: nats.url });
  const workers = await Promise.all(
    ['demo-worker-0', 'demo-worker-1'].map(async (name) => {
      const w = new Worker({ nc: await connect({ servers: nats.url, name }), pool: POOLS.ci, name, slots: 2, cacheDir: await mkdtemp(join(work, `${name}-cache-`)), secretsDir: join(work, 'no-secrets'), earthly: 'earthly', log });
      await w.start();
      return w;
    }),
  );
  process.stdout.write(`${nats.url}: stream ${POOLS.ci.stream}, consumer ${POOLS.ci.consumer}; workers demo-worker-0, demo-worker-1 (2 slots each)\n`);
  try {
    const runId = `demo-${Date.now().toString(36)}`;
    for (const slot of discovery.slots.filter((s) => s.tasks.length > 0)) {
      say(`group-${slot.slot}: ${slot.tasks.map((t) => t.id).join(', ')} (one dispatcher each, in parallel)`);
      const started = performance.now();
      const results = await Promise.all(
        slot.tasks.map((task) =>
          dispatch({
            nc, pool: POOLS.ci, runId, taskId: task.id, repository, commit: discovery.source.commit, timeoutMs: 5 * 60_000,
            task: { kind: 'phase', phase: task.phase, project: task.project, path: task.path },
            signal: new AbortController().signal,
            onLine: (l) => process.stdout.write(`  ${task.id.padEnd(16)} ${(l.stream === 'forge' ? 'forge' : l.step ?? '').padEnd(9)} | ${l.line}\n`),
            onNote: () => undefined,
            onProgress: () => undefined,
          }),
        ),
      );
      for (const { job, result } of results) process.stdout.write(`${result.status === 'succeeded' ? '✓' : '✗'} ${job.taskId.padEnd(16)} ${result.status}: ${result.message} (${result.worker}, attempt ${result.attempt}${result.cacheHit ? ', commit in the cache' : ''})\n`);
      process.stdout.write(`group-${slot.slot} done in ${Math.round(performance.now() - started)} ms\n`);
      if (results.some((r) => r.result.status !== 'succeeded')) throw new Error(`group-${slot.slot} failed: later groups do not start`);
    }
  } finally {
    await Promise.all(workers.map((w) => w.drain(5_000)));
    await nc.close();
    await nats.stop();
  }
}
