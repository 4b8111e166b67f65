import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { ForgeError } from '../lib/errors.ts';
import { formatDuration } from '../lib/duration.ts';
import { isTerminal, jobId, jobSchema, queuedState, STATE_REVISION_HEADER, type Job, type JobResult, type JobState, type JobTask, type LogLine } from '../lib/pool/job.ts';
import { followLog } from '../lib/pool/logs.ts';
import { jobSubject, type PoolSpec } from '../lib/pool/pools.ts';
import { JobStore, type Watch } from '../lib/pool/state.ts';

/**
 * The dispatcher of one pool-backed Argo task: publish the job once (or find it again), print
 * its log as it arrives, report progress, wait for its result and hand it back. Asked to stop
 * (Argo's Stop/Terminate, a deadline), it cancels its job so no pool keeps working for a
 * workflow that is over.
 */
export interface DispatchOptions {
  nc: NatsConnection;
  pool: PoolSpec;
  runId: string;
  taskId: string;
  repository: string;
  commit: string;
  task: JobTask;
  timeoutMs: number;
  /** The Argo workflow's name, for provenance and logs (its uid is the run id). */
  workflowName?: string;
  /** Aborted when the dispatcher is asked to stop (SIGTERM). */
  signal: AbortSignal;
  onLine(line: LogLine): void;
  onNote(text: string): void;
  onProgress(done: number, total: number): void;
  /** How long a cancelled job may take to stop on its worker before the dispatcher gives up waiting (ms). */
  cancelWaitMs?: number;
}

export interface DispatchOutcome {
  job: Job;
  result: JobResult;
  /** This dispatcher found the job already published (a retry or restart). */
  attached: boolean;
}

export async function dispatch(opts: DispatchOptions): Promise<DispatchOutcome> {
  const { nc, pool } = opts;
  const id = jobId(opts.runId, opts.taskId);
  const job = jobSchema.parse({ apiVersion: 'forge.dev/v1alpha1', kind: 'Job', id, runId: opts.runId, taskId: opts.taskId, pool: pool.name, repository: opts.repository, commit: opts.commit, timeoutMs: opts.timeoutMs, task: opts.task, ...(opts.workflowName ? { workflowName: opts.workflowName } : {}), createdAt: new Date().toISOString() });
  const subject = jobSubject(pool, job.runId, job.taskId);
  const store = await JobStore.open(nc);
  // Listening starts before the job is queued: a new job's log lines and state changes then all
  // arrive as they happen, and nothing has to be asked of the server to catch up.
  const log = await followLog(nc, id, opts.onLine, { replay: false });
  try {
    const listener = await listen(store, job, opts);
    try {
      const how = await queueOrAttach(nc, store, job, subject, listener, opts);
      if (how === 'attached') await Promise.all([log.replay(), listener.refresh()]); // what happened before this dispatcher
      void listener.refreshRun(); // a run cancelled before the job was queued: the job is cancelled at once
      const final = await waitForEnd(store, job, opts, listener);
      const result = await store.readResult(final);
      if (!result) throw new ForgeError('JOB_FAILED', `job ${id} ended ${final.state} without a result`);
      if (result.worker !== 'dispatcher') await log.ended(result.attempt, 5_000); // the worker's last lines
      return { job, result, attached: how === 'attached' };
    } finally {
      listener.stop();
    }
  } finally {
    // Cleanup of the log consumer is off the result's path; the connection's drain waits for it.
    void log.stop();
  }
}

/**
 * Queues the job; or queues it again when it ended without success before (a retried task:
 * `argo retry` of the workflow — its run's fail-fast cancel is cleared, and the job runs as its
 * next round); or attaches to it, queued, running or succeeded.
 */
async function queueOrAttach(nc: NatsConnection, store: JobStore, job: Job, subject: string, listener: Listener, opts: DispatchOptions): Promise<'queued' | 'requeued' | 'attached'> {
  const { created, state } = await store.create(queuedState(job, subject));
  if (created) {
    await publish(nc, subject, job, state.value, state.revision);
    opts.onNote(`job ${job.id} queued on pool ${job.pool} (${subject})`);
    return 'queued';
  }
  const was = state.value;
  if (isTerminal(was.state) && was.state !== 'succeeded') {
    listener.round = (was.round ?? 0) + 1; // the earlier round's end is not this dispatcher's
    await store.clearRunCancel(job.runId);
    const again = await store.requeue(job.id, state);
    if (again) {
      await publish(nc, subject, job, again.value, again.revision);
      opts.onNote(`job ${job.id} ended ${was.state} before (attempt ${was.attempt}${was.round ? `, round ${was.round}` : ''}): queued again on pool ${job.pool}, round ${listener.round}`);
      return 'requeued';
    }
  }
  opts.onNote(`job ${job.id} already exists (${was.state}${was.worker ? ` on ${was.worker}` : ''}): attaching to it`);
  if (was.state === 'queued' && !(await inStream(nc, opts.pool, subject))) {
    await publish(nc, subject, job, was, state.revision); // the earlier dispatcher stopped between recording and publishing
    opts.onNote(`job ${job.id} was recorded but not in the queue: published it`);
  }
  return 'attached';
}

async function publish(nc: NatsConnection, subject: string, job: Job, state: JobState, stateRevision: number): Promise<void> {
  try {
    // Each round is a message of its own: JetStream's dedupe would drop a second one with the same id.
    const msgID = state.round ? `${job.id}.r${state.round}` : job.id;
    // The revision lets the worker claim without reading the state, which it then assumes is a
    // first round's fresh one; a later round's state it reads.
    await jetstream(nc).publish(subject, JSON.stringify(job), { msgID, ...(state.round ? {} : { headers: revisionHeader(stateRevision) }) });
  } catch (e) {
    const text = (e as Error).message;
    const why = /no responders|no stream/i.test(text) ? `no stream takes ${subject}: no worker of this pool has set it up yet` : /maximum messages|resource limits/i.test(text) ? 'the pool queue is full' : text;
    throw new ForgeError('POOL_UNAVAILABLE', `cannot queue job ${job.id}: ${why}`, [], { cause: e });
  }
}

function revisionHeader(revision: number) {
  const h = headers();
  h.set(STATE_REVISION_HEADER, String(revision));
  return h;
}

async function inStream(nc: NatsConnection, pool: PoolSpec, subject: string): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.getMessage(pool.stream, { last_by_subj: subject }).catch(() => null)) !== null;
}

interface Listener {
  /** The job's final state (its result), once a state change says so, or what this dispatcher decides. */
  ended: Promise<JobState>;
  /** The round whose end counts (an earlier round's failure is what a retried task runs again). */
  round: number;
  settle(state: JobState): void;
  refresh(): Promise<void>;
  refreshRun(): Promise<void>;
  stop(): void;
}

/**
 * Watches the job's state (progress, the end) and its run (a fail-fast cancel). Subscribed before
 * the job is queued, read when the caller asks (`refresh`, `refreshRun`).
 */
async function listen(store: JobStore, job: Job, opts: DispatchOptions): Promise<Listener> {
  let settle!: (s: JobState) => void;
  const ended = new Promise<JobState>((r) => (settle = r));
  let lastProgress = '';
  const watches: Watch[] = [];
  const listener: Listener = {
    ended,
    round: 0,
    settle,
    refresh: () => watches[0]!.refresh(),
    refreshRun: () => watches[1]!.refresh(),
    stop: () => watches.forEach((w) => w.stop()),
  };
  const onState = (s: JobState) => {
    if (s.progress && `${s.progress.done}/${s.progress.total}` !== lastProgress) {
      lastProgress = `${s.progress.done}/${s.progress.total}`;
      opts.onProgress(s.progress.done, s.progress.total);
    }
    if (isTerminal(s.state) && (s.round ?? 0) >= listener.round) settle(s);
  };
  watches.push(await store.watch(job.id, onState, { initial: false }));
  watches.push(await store.watchRun(job.runId, (cancel) => void cancelQueued(store, job, cancel.reason), { initial: false }));
  return listener;
}

/** Resolves with the job's final state: its result, or the cancel/timeout this dispatcher decided. */
async function waitForEnd(store: JobStore, job: Job, opts: DispatchOptions, { ended, settle }: Listener): Promise<JobState> {
  const cancel = async (reason: string): Promise<JobState | undefined> => {
    const s = await store.update(job.id, (st) =>
      isTerminal(st.state) ? undefined : st.state === 'queued' ? { ...st, state: 'cancelled', result: dispatcherResult(job, 'cancelled', reason, st) } : { ...st, cancel: { reason, at: new Date().toISOString() } },
    );
    if (isTerminal(s.value.state)) return s.value;
    opts.onNote(`cancel sent to ${s.value.worker ?? 'the worker'}: waiting for the job to stop`);
    return Promise.race([ended, sleep(opts.cancelWaitMs ?? 20_000).then(() => undefined)]);
  };
  const onAbort = () => void cancel('stopped by Argo (the workflow was stopped or terminated, or hit its deadline)').then((s) => settle(s ?? forced(job, 'cancelled', 'stopped by Argo; the worker did not confirm in time')));
  if (opts.signal.aborted) onAbort();
  opts.signal.addEventListener('abort', onAbort);
  const timer = setTimeout(() => {
    void store.get(job.id).then((st) => {
      const where = st?.value.state === 'queued' ? `no worker of pool ${job.pool} took it` : `it was still running on ${st?.value.worker ?? 'a worker'}`;
      opts.onNote(`job timeout after ${formatDuration(job.timeoutMs)}: ${where}; cancelling it`);
      return cancel(`timed out after ${formatDuration(job.timeoutMs)} (${where})`).then((s) => settle(s ?? forced(job, 'timed-out', `timed out after ${formatDuration(job.timeoutMs)}: ${where}`)));
    });
  }, job.timeoutMs + 5_000);
  try {
    return await ended;
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
  }
}

/** A queued job of a cancelled run never starts: cancelled here, without waiting for a worker. */
async function cancelQueued(store: JobStore, job: Job, reason: string): Promise<void> {
  await store.update(job.id, (st) => (st.state === 'queued' ? { ...st, state: 'cancelled', result: dispatcherResult(job, 'cancelled', reason, st) } : undefined)).catch(() => undefined);
}

/** A result the dispatcher decides on its own: a queued job it cancels, or a worker that never confirmed. */
function dispatcherResult(job: Job, status: 'cancelled' | 'timed-out', message: string, state?: JobState): JobResult {
  const now = new Date().toISOString();
  return { jobId: job.id, status, message, exitCode: 1, steps: [], outputs: {}, worker: 'dispatcher', attempt: Math.max(1, state?.attempt ?? 0), round: state?.round ?? 0, startedAt: now, finishedAt: now };
}

/** The state a dispatcher reports when the worker never confirmed (it may be gone). */
function forced(job: Job, state: 'cancelled' | 'timed-out', message: string): JobState {
  return { jobId: job.id, state, subject: '', pool: job.pool, attempt: 1, result: dispatcherResult(job, state, message), updatedAt: new Date().toISOString() };
}

// Unref: a wait that lost its race must not keep the dispatcher alive.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
