import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dispatch } from '../dispatch/dispatch.ts';
import { startNats, type NatsServer } from '../local/nats.ts';
import { POOLS } from '../lib/pool/pools.ts';
import { poolRepo, startWorker, type WorkerProcess } from '../../test/helpers/pool.ts';
import type { TempRepo } from '../../test/helpers/git-repo.ts';

// 200 jobs at once across 4 worker processes: none lost, none run twice.
let nats: NatsServer;
let nc: NatsConnection;
let tmp: string;
let repo: TempRepo;
let workers: WorkerProcess[] = [];
const PROJECTS = 10;
const RUNS = 20;

beforeAll(async () => {
  nats = await startNats();
  tmp = await mkdtemp(join(tmpdir(), 'forge-pool-load-'));
  const projects = Object.fromEntries(Array.from({ length: PROJECTS }, (_, i) => [`p${i}`, { lint: { mark: { args: [`runs=${join(tmp, 'runs.log')}`] } } }]));
  repo = await poolRepo(projects);
  workers = await Promise.all(['load-1', 'load-2', 'load-3', 'load-4'].map((name) => startWorker({ natsUrl: nats.url, pool: 'ci', name, slots: 4 })));
  await Promise.all(workers.map((w) => w.ready));
  nc = await connect({ servers: nats.url });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(workers.map((w) => w.cleanup()));
  await nats?.stop();
  await repo?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

test('200 concurrent jobs on 4 workers: every one completes exactly once', async () => {
  const jobs = Array.from({ length: RUNS * PROJECTS }, (_, i) => ({ run: `run-load-${Math.floor(i / PROJECTS)}`, project: `p${i % PROJECTS}` }));
  const results = await Promise.all(
    jobs.map(({ run, project }) =>
      dispatch({
        nc, pool: POOLS.ci, runId: run, taskId: `lint-${project}`, repository: `file://${repo.dir}`, commit: repo.commit,
        task: { kind: 'phase', phase: 'lint', project, path: `projects/${project}` }, timeoutMs: 120_000, signal: new AbortController().signal,
        onLine: () => undefined, onNote: () => undefined, onProgress: () => undefined,
      }),
    ),
  );
  expect(results.filter((r) => r.result.status !== 'succeeded').map((r) => `${r.job.id}: ${r.result.message}`)).toEqual([]);
  const runs = (await readFile(join(tmp, 'runs.log'), 'utf8')).trim().split('\n').map((l) => l.split(' ')[1]);
  expect(runs).toHaveLength(200);
  expect(new Set(runs).size).toBe(200);
  // Every worker took part.
  expect(new Set(results.map((r) => r.result.worker)).size).toBe(4);
}, 240_000);
