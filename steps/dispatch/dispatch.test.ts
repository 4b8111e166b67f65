import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { isForgeError } from '../lib/errors.ts';
import { connectNats } from '../lib/pool/connect.ts';
import { jobSchema, queuedState, STATE_REVISION_HEADER, type Job } from '../lib/pool/job.ts';
import { jobSubject, POOLS } from '../lib/pool/pools.ts';
import { ensurePool } from '../lib/pool/setup.ts';
import { JobStore } from '../lib/pool/state.ts';
import { openDatabase, type Database } from '../lib/records/db.ts';
import { ExecutionRecords } from '../lib/records/executions.ts';
import { startNats, type NatsServer } from '../local/nats.ts';
import { startWorker, waitFor, type WorkerProcess } from '../../test/helpers/pool.ts';
import { startPostgres, type PostgresServer } from '../../test/helpers/postgres.ts';
import { dispatch, type DispatchOptions } from './dispatch.ts';

// The dispatcher's side of the protocol against a real nats-server: what it does when no pool is
// there, and what a worker does with a job whose state moved on after it was queued.
let nats: NatsServer;
let nc: NatsConnection;
let worker: WorkerProcess | undefined;
let postgres: PostgresServer;
let databaseUrl: string;
let db: Database;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: 'dispatch-test' });
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('dispatch');
  db = await openDatabase({ url: databaseUrl, schema: 'migrate' });
}, 60_000);
afterEach(async () => {
  await worker?.cleanup();
  worker = undefined;
});
afterAll(async () => {
  await db?.close();
  await nc?.close();
  await nats?.stop();
  await postgres?.stop();
});

const ping = (runId: string, taskId: string, signal = new AbortController().signal): DispatchOptions => ({
  nc, pool: POOLS.ci, runId, taskId, repository: 'file:///unused', commit: '0'.repeat(40), task: { kind: 'ping' }, timeoutMs: 60_000,
  signal, onLine: () => undefined, onNote: () => undefined, onProgress: () => undefined,
});

const pingJob = (runId: string, taskId: string): Job => jobSchema.parse({
  apiVersion: 'forge.dev/v1alpha1', kind: 'Job', id: `${runId}.${taskId}`, runId, taskId, pool: 'ci', repository: 'file:///unused', commit: '0'.repeat(40), timeoutMs: 60_000, task: { kind: 'ping' }, createdAt: new Date().toISOString(),
});

/** Messages of the ci pool not yet acknowledged (waiting, or delivered and in progress). */
async function queued(): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(POOLS.ci.stream, POOLS.ci.consumer);
  return info.num_pending + info.num_ack_pending;
}

describe('dispatch', () => {
  test('no pool set up on the server: POOL_UNAVAILABLE, naming what to run', async () => {
    const err = await dispatch(ping('run-none', 'lint-a')).catch((e: unknown) => e);
    expect(isForgeError(err) && err.code).toBe('POOL_UNAVAILABLE');
    expect((err as Error).message).toMatch(/the pool buckets \(forge-jobs, forge-runs, forge-results\) are missing: start a worker or run `forge worker --setup-only` first/);
  });

  test('a job cancelled while queued is never run (though its message names the revision it was queued at) and is recorded', async () => {
    await ensurePool(nc, POOLS.ci, { ackWaitMs: 6_000 }); // as the test workers run (--ack-wait-seconds 6)
    const stop = new AbortController();
    const notes: string[] = [];
    const pending = dispatch({ ...ping('run-stale', 'lint-a', stop.signal), onNote: (t) => notes.push(t) });
    await waitFor(() => notes.some((n) => n.includes('queued on pool ci')), 10_000, 'the job to be queued');
    stop.abort(); // Argo stopped the task before any worker took it
    const { result } = await pending;
    expect(result).toMatchObject({ status: 'cancelled', worker: 'dispatcher' });
    expect(await queued()).toBe(1);

    // The message still carries the revision of the queued state: the worker's claim by that
    // revision fails, it reads the state, finds it final and acks without running the job.
    worker = await startWorker({ natsUrl: nats.url, pool: 'ci', name: 'stale-w', args: ['--database-url', databaseUrl] });
    await worker.ready;
    await waitFor(async () => (await queued()) === 0, 15_000, 'the message to be acked');
    expect(worker.output()).toMatch(/job already finished: acknowledged without running it again/);
    const state = await (await JobStore.open(nc)).get('run-stale.lint-a');
    expect(state?.value).toMatchObject({ state: 'cancelled', attempt: 0 });
    expect(state?.value.worker).toBeUndefined();
    // The dispatcher has no database: the worker that took the message recorded its result.
    expect(await new ExecutionRecords(db).task('run-stale.lint-a')).toMatchObject({ status: 'cancelled', worker: 'dispatcher', steps: [] });
  });

  test('a run cancelled before the worker started: its queued job ends cancelled, never run', async () => {
    await ensurePool(nc, POOLS.ci, { ackWaitMs: 6_000 }); // as the test workers run (--ack-wait-seconds 6)
    const store = await JobStore.open(nc);
    await store.cancelRun('run-gone', { reason: 'build-app failed', taskId: 'build-app', at: new Date().toISOString() });
    // Queued as a dispatcher queues it, but with no dispatcher left to cancel it.
    const job = pingJob('run-gone', 'lint-b');
    const subject = jobSubject(POOLS.ci, job.runId, job.taskId);
    const { state } = await store.create(queuedState(job, subject));
    const h = headers();
    h.set(STATE_REVISION_HEADER, String(state.revision));
    await jetstream(nc).publish(subject, JSON.stringify(job), { msgID: job.id, headers: h });

    worker = await startWorker({ natsUrl: nats.url, pool: 'ci', name: 'late-w' });
    await worker.ready;
    await waitFor(async () => (await store.get(job.id))?.value.state === 'cancelled', 15_000, 'the job to end cancelled');
    const final = await store.get(job.id);
    expect(final?.value.result).toMatchObject({ status: 'cancelled', message: 'build-app failed', steps: [] });
    expect(await queued()).toBe(0);
  });
});
