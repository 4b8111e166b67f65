import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNats, type NatsServer } from '../local/nats.ts';
import { JobStore } from '../lib/pool/state.ts';
import { POOLS } from '../lib/pool/pools.ts';
import { phaseTask, poolRepo, runDispatch, startWorker, waitFor, type WorkerProcess } from '../../test/helpers/pool.ts';
import { startPostgres, type PostgresServer } from '../../test/helpers/postgres.ts';
import { openDatabase, type Database } from '../lib/records/db.ts';
import { ExecutionRecords } from '../lib/records/executions.ts';
import type { TempRepo } from '../../test/helpers/git-repo.ts';

// Faults with real processes and a real server: a worker SIGKILLed mid-job, a dispatcher killed
// and started again, nats-server restarted mid-run, a poison payload, a drifted stream.
let nats: NatsServer;
let nc: NatsConnection;
let tmp: string;
let repo: TempRepo;
let postgres: PostgresServer;
let databaseUrl: string;
let db: Database;
const workers: WorkerProcess[] = [];
const runs = (name: string) => join(tmp, `${name}.runs`);

async function worker(name: string): Promise<WorkerProcess> {
  const w = await startWorker({ natsUrl: nats.url, pool: 'ci', name, slots: 1, args: ['--database-url', databaseUrl] });
  workers.push(w);
  await w.ready;
  return w;
}

beforeAll(async () => {
  nats = await startNats();
  tmp = await mkdtemp(join(tmpdir(), 'forge-pool-faults-'));
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('pool_faults');
  db = await openDatabase({ url: databaseUrl, schema: 'migrate' });
  repo = await poolRepo({
    killed: { lint: { work: { args: [`runs=${runs('killed')}`, 'print=1', 'sleep=4000', 'print=2'] } } },
    attach: { lint: { work: { args: [`runs=${runs('attach')}`, 'print=1', 'sleep=3000'] } } },
    restart: { lint: { work: { args: [`runs=${runs('restart')}`, 'print=1', 'sleep=3000', 'print=2'] } } },
    plain: { lint: { work: { args: ['print=1'] } } },
    flaky: { lint: { work: { args: [`runs=${runs('flaky')}`, 'print=1', `failOnce=${join(tmp, 'flaky.failed')}`] } } },
  });
  await Promise.all([worker('fault-a'), worker('fault-b')]);
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
}, 60_000);

afterAll(async () => {
  await db?.close();
  await nc?.close();
  await Promise.all(workers.map((w) => w.cleanup()));
  await nats?.stop();
  await postgres?.stop();
  await repo?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const args = (run: string, project: string) => ['phase', '--run-id', run, '--repo-url', `file://${repo.dir}`, '--commit', repo.commit, '--task', phaseTask('lint', project), '--nats-url', nats.url];
const lines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe('pool faults', () => {
  test('a worker killed mid-job (SIGKILL): the job is redelivered, completes once on another worker', async () => {
    const d = runDispatch(args('run-kill', 'killed'));
    await waitFor(() => d.output().includes('work line 1'), 20_000, 'the step to start');
    const victim = workers.find((w) => d.output().includes(`${w.name}: job run-kill.lint-killed`))!;
    victim.child.kill('SIGKILL');
    const { code, output } = await d.done;
    expect(code, output).toBe(0);
    const survivor = workers.find((w) => w !== victim && w.child.exitCode === null)!;
    expect(output).toMatch(new RegExp(`succeeded: killed \\(lint\\): 1 step\\(s\\) succeeded \\(worker ${survivor.name}, attempt 2`));
    expect(await lines(runs('killed'))).toHaveLength(2); // started twice, finished once
    const store = await JobStore.open(nc);
    const state = (await store.get('run-kill.lint-killed'))!.value;
    expect(state).toMatchObject({ state: 'succeeded', attempt: 2, worker: survivor.name });
    // One record, of the attempt that finished.
    const records = new ExecutionRecords(db);
    expect(await records.countTasks('run-kill')).toBe(1);
    expect(await records.task('run-kill.lint-killed')).toMatchObject({ status: 'succeeded', attempt: 2, worker: survivor.name, exitCode: 0, steps: [{ name: 'work', status: 'succeeded', exitCode: 0 }] });
    await worker(`${victim.name}-2`);
  }, 60_000);

  test('a dispatcher killed and started again attaches to the running job: it runs once', async () => {
    const first = runDispatch(args('run-attach', 'attach'));
    await waitFor(() => first.output().includes('work line 1'), 20_000, 'the step to start');
    first.child.kill('SIGKILL');
    await first.done;
    const { code, output } = await runDispatch(args('run-attach', 'attach')).done;
    expect(code, output).toBe(0);
    expect(output).toMatch(/job run-attach\.lint-attach already exists \(running on fault-[ab](-2)?\): attaching to it/);
    expect(output).toContain('work line 1'); // the log is replayed from the start
    expect(await lines(runs('attach'))).toHaveLength(1);
    expect(await new ExecutionRecords(db).countTasks('run-attach')).toBe(1);
  }, 60_000);

  test('a task of a run cancelled before it was queued ends cancelled, never runs, and is recorded', async () => {
    await (await JobStore.open(nc)).cancelRun('run-late', { reason: 'build-app failed', taskId: 'build-app', at: new Date().toISOString() });
    const { code, output } = await runDispatch(args('run-late', 'plain')).done;
    expect(code, output).toBe(130);
    expect(output).toMatch(/cancelled: build-app failed/);
    expect(output).not.toContain('work line 1');
    // Whoever ended it (its dispatcher, which has no database, or a worker), a worker records it.
    const records = new ExecutionRecords(db);
    await waitFor(async () => (await records.countTasks('run-late')) === 1, 20_000, 'the cancelled task to be recorded');
    expect(await records.task('run-late.lint-plain')).toMatchObject({ status: 'cancelled', message: 'build-app failed', steps: [] });
  }, 60_000);

  test('argo retry: a failed task runs again as its next round, the run goes on, both rounds are recorded', async () => {
    const first = await runDispatch(args('run-retry', 'flaky')).done;
    expect(first.code, first.output).toBe(5);
    // The same task dispatched again (Argo keeps the workflow's uid on retry).
    const again = await runDispatch(args('run-retry', 'flaky')).done;
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/job run-retry\.lint-flaky ended failed before \(attempt 1\): queued again on pool ci, round 1/);
    expect(again.output).toMatch(/succeeded: flaky \(lint\): 1 step\(s\) succeeded \(worker fault-[ab](-2)?, attempt 2/);
    expect(again.output).not.toMatch(/code 5/); // the new round's log, not the first one's
    // The first failure's fail-fast cancel no longer stops the run's other tasks.
    const later = await runDispatch(args('run-retry', 'plain')).done;
    expect(later.code, later.output).toBe(0);
    // A task that succeeded is not run again.
    const third = await runDispatch(args('run-retry', 'flaky')).done;
    expect(third.code, third.output).toBe(0);
    expect(third.output).toMatch(/job run-retry\.lint-flaky already exists \(succeeded on fault-[ab](-2)?\): attaching to it/);
    expect(await lines(runs('flaky'))).toHaveLength(2);
    const records = new ExecutionRecords(db);
    expect(await records.task('run-retry.lint-flaky', 0)).toMatchObject({ status: 'failed', exitCode: 5, attempt: 1, round: 0 });
    expect(await records.task('run-retry.lint-flaky')).toMatchObject({ status: 'succeeded', attempt: 2, round: 1, steps: [{ name: 'work', status: 'succeeded' }] });
    expect(await records.countTasks('run-retry')).toBe(3);
  }, 60_000);

  test('nats-server restarted mid-run: the job finishes and its log and result arrive', async () => {
    const d = runDispatch(args('run-restart', 'restart'));
    await waitFor(() => d.output().includes('work line 1'), 20_000, 'the step to start');
    await nats.restart();
    const { code, output } = await d.done;
    expect(code, output).toBe(0);
    expect(output).toContain('work line 2');
    expect(output).toMatch(/succeeded: restart \(lint\)/);
    expect(await lines(runs('restart'))).toHaveLength(1);
  }, 60_000);

  test('a poison payload is terminated with its reason, never retried, and the pool goes on', async () => {
    const js = jetstream(nc);
    await js.publish('pipeline.tasks.run-poison.bad', JSON.stringify({ apiVersion: 'forge.dev/v1alpha1', kind: 'Job', id: 'x', commit: 'nope' }));
    await js.publish('pipeline.tasks.run-poison.worse', 'not json at all');
    await waitFor(() => workers.filter((w) => /invalid job payload on pipeline\.tasks\.run-poison\.(bad|worse)/.test(w.output())).length >= 1 && (workers.map((w) => w.output()).join('').match(/invalid job payload/g) ?? []).length >= 2, 20_000, 'both payloads refused');
    const log = workers.map((w) => w.output()).join('');
    expect(log).toMatch(/invalid job payload on pipeline\.tasks\.run-poison\.bad: .*commit: must be a full 40-character commit SHA/);
    expect(log).toMatch(/invalid job payload on pipeline\.tasks\.run-poison\.worse: not JSON/);
    // Terminated: neither waiting for an ack nor pending a redelivery.
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.consumers.info(POOLS.ci.stream, POOLS.ci.consumer)).num_ack_pending === 0, 5_000, 'the terms to land');
    expect((await jsm.consumers.info(POOLS.ci.stream, POOLS.ci.consumer)).num_pending).toBe(0);
    await new Promise((r) => setTimeout(r, 7_000)); // longer than the ack wait: nothing comes back
    expect((await jsm.consumers.info(POOLS.ci.stream, POOLS.ci.consumer)).num_redelivered).toBe(0);
    expect(workers.map((w) => w.output()).join('').match(/invalid job payload/g)).toHaveLength(2);
    const { code } = await runDispatch(args('run-after-poison', 'plain')).done;
    expect(code).toBe(0);
  }, 60_000);

  test('a stream that drifted from its settings is an error naming each field, not reused', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: POOLS.release.stream, subjects: ['pipeline.releases.>'], retention: RetentionPolicy.Workqueue, storage: StorageType.Memory, max_age: nanos(60_000), max_msgs: 5 });
    const w = await startWorker({ natsUrl: nats.url, pool: 'release', name: 'drift', args: ['--setup-only'] });
    const code = await w.exited;
    await w.cleanup();
    expect(code).toBe(1);
    expect(w.output()).toContain('POOL_DRIFT: stream pipeline-releases exists with other settings: delete it or restore them');
    expect(w.output()).toContain('stream pipeline-releases: storage: "memory" (expected "file")');
    expect(w.output()).toContain('stream pipeline-releases: max_msgs: 5 (expected 1000)');
  }, 30_000);
});
