import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { isForgeError } from '../lib/errors.ts';
import { formatDuration } from '../lib/duration.ts';
import { isTerminal, jobId, jobSchema, queuedState, STATE_REVISION_HEADER, type Job, type JobResult, type JobState, type Outcome, type RunCancel } from '../lib/pool/job.ts';
import { LogPublisher } from '../lib/pool/logs.ts';
import type { JobStore, Versioned } from '../lib/pool/state.ts';
import type { ExecutionRecords } from '../lib/records/executions.ts';
import type { GitCache } from './git-cache.ts';
import { HANDLERS, NO_CHECKOUT, type HandlerContext, type HandlerOutcome } from './handlers.ts';
import type { ReleaseServices } from './release-services.ts';
import type { WorkerMetrics } from './metrics.ts';

/**
 * One delivered job on a worker, from payload to ack. The order is what makes a job run once:
 * refuse a bad payload (`term`, never redelivered); skip a job whose state is already final (a
 * redelivery after the result was stored); claim it (compare-and-set to `running`); keep the
 * delivery alive with in-progress acks; store the result; only then ack.
 */
export interface JobRunContext {
  nc: NatsConnection;
  store: JobStore;
  cache: GitCache;
  metrics: WorkerMetrics;
  log: Logger;
  worker: string;
  ackWaitMs: number;
  workerEnv: NodeJS.ProcessEnv;
  secretsDir: string;
  earthly: string;
  /** The permanent record of every finished job (PostgreSQL), when the worker has a database. */
  records?: ExecutionRecords;
  /** Release settings and records, on the artifact and release pools. */
  release?: ReleaseServices;
  /** The cancel of a run, as far as this worker's watch of the run bucket has seen. */
  runCancel(runId: string): RunCancel | undefined;
  /** Registers the job's abort for run cancels and draining; returns the unregister. */
  track(job: Job, abort: (reason: Stop) => void): () => void;
}

/** Why a running job was stopped. `drain`: the worker is going away and gives the job back. */
export type Stop = { kind: 'cancel'; reason: string } | { kind: 'timeout' } | { kind: 'drain' };

export async function runDelivery(msg: JsMsg, ctx: JobRunContext): Promise<void> {
  const payload = safeJson(msg);
  const parsed = jobSchema.safeParse(payload);
  if (!parsed.success) {
    const reason = `invalid job payload on ${msg.subject}: ${payload === NOT_JSON ? 'not JSON' : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`.slice(0, 1000);
    ctx.log.warn({ subject: msg.subject, seq: msg.seq }, reason);
    ctx.metrics.refused.inc({ pool: poolOf(msg.subject) });
    // The reason travels with +TERM (and its advisory) from nats-server 2.10; 2.9 ignores a +TERM
    // that carries one, which would leave the job to be redelivered: there it goes without.
    if (serverAtLeast(ctx.nc.info?.version, 2, 10)) msg.term(reason);
    else msg.term();
    return;
  }
  const job = parsed.data;
  ctx.metrics.queueWait.observe({ pool: job.pool }, Math.max(0, Date.now() - Number(msg.timestampNanos / 1_000_000n)) / 1000);
  // Claim (compare-and-set to running): a cancel that arrived first wins, and so does a final
  // result (a redelivery after the result was stored is acked without running again). The
  // revision its dispatcher created spares reading the state first.
  const claim = (s: JobState) => (isTerminal(s.state) || s.cancel ? undefined : { ...s, state: 'running' as const, attempt: s.attempt + 1, worker: ctx.worker });
  const revision = Number(msg.headers?.get(STATE_REVISION_HEADER));
  const known = Number.isSafeInteger(revision) && revision > 0 ? { value: queuedState(job, msg.subject), revision } : undefined;
  const claimed = await ctx.store.update(job.id, claim, known).catch(async (e) => {
    if (!(isForgeError(e) && e.code === 'JOB_INVALID')) throw e;
    // Published without a state (it expired, or another publisher): recorded now.
    await ctx.store.create(queuedState(job, msg.subject));
    return ctx.store.update(job.id, claim);
  });
  // A job run again (`argo retry`) follows its dispatcher's clearing of the run's cancel, which
  // this worker's watch may not have seen yet: asked of the bucket itself.
  const runCancel = (claimed.value.round ?? 0) > 0 ? await ctx.store.runCancel(job.runId) : ctx.runCancel(job.runId);
  if (isTerminal(claimed.value.state)) {
    // Final already: a redelivery, or a job its dispatcher cancelled while it was queued. Records
    // are idempotent per job id, so the dispatcher's result (it has no database) is recorded here.
    const decided = await ctx.store.readResult(claimed.value).catch(() => undefined);
    if (decided) await recordExecution(ctx, job, decided);
    ctx.log.info({ job: job.id, state: claimed.value.state }, 'job already finished: acknowledged without running it again');
    ackSafely(msg);
    return;
  }
  if (claimed.value.state !== 'running' || claimed.value.worker !== ctx.worker || runCancel) {
    const reason = claimed.value.cancel?.reason ?? runCancel?.reason ?? 'cancelled';
    await ctx.store.finish(job.id, await recordExecution(ctx, job, result(job, ctx, claimed.value, 'cancelled', reason, 0, new Date())));
    ackSafely(msg);
    return;
  }
  await execute(msg, job, claimed, ctx);
}

async function execute(msg: JsMsg, job: Job, claimed: Versioned<JobState>, ctx: JobRunContext): Promise<void> {
  const attempt = claimed.value.attempt;
  const started = new Date();
  const log = new LogPublisher(ctx.nc, job.id, attempt);
  const abort = new AbortController();
  let stop: Stop | undefined;
  const stopWith = (s: Stop) => {
    if (stop) return;
    stop = s;
    abort.abort();
  };
  const heartbeat = setInterval(() => msg.working(), Math.max(1000, ctx.ackWaitMs / 3));
  const timeout = setTimeout(() => stopWith({ kind: 'timeout' }), job.timeoutMs);
  const untrack = ctx.track(job, stopWith);
  // The state was just claimed: only later changes (a cancel) matter.
  const watch = await ctx.store.watch(job.id, (s) => s.cancel && stopWith({ kind: 'cancel', reason: s.cancel.reason }), { initial: false });
  let lastProgress = '';
  let progressed = false;
  const progress = (done: number, total: number) => {
    progressed = true;
    const text = `${done}/${total}`;
    if (text === lastProgress) return;
    lastProgress = text;
    void ctx.store.update(job.id, (s) => (s.state === 'running' ? { ...s, progress: { done, total } } : undefined)).catch(() => undefined);
  };
  const results = async (taskId: string) => {
    const state = await ctx.store.get(jobId(job.runId, taskId));
    return state && isTerminal(state.value.state) ? ctx.store.readResult(state.value) : undefined;
  };
  const handlerContext = (dir: string): HandlerContext => ({
    job, attempt, dir, log, signal: abort.signal, progress, workerEnv: ctx.workerEnv, secretsDir: ctx.secretsDir, earthly: ctx.earthly, results, release: ctx.release,
  });
  log.write('forge', `${ctx.worker}: job ${job.id} (attempt ${attempt}) ${job.repository.replace(/\/\/[^/@]*@/, '//')}@${job.commit.slice(0, 12)}`);
  let outcome: HandlerOutcome;
  let cacheHit: boolean | undefined;
  try {
    if (NO_CHECKOUT.has(job.task.kind)) {
      outcome = await HANDLERS[job.task.kind](handlerContext(''));
    } else {
      const workspace = await ctx.cache.checkout(job.repository, job.commit, job.id);
      cacheHit = workspace.hit;
      ctx.metrics.cache.inc({ pool: job.pool, result: workspace.hit ? 'hit' : 'miss' });
      log.write('forge', `checkout: ${workspace.hit ? 'commit already in the mirror' : 'fetched into the mirror'}, ${workspace.reused ? 'worktree reset' : 'new worktree'} (${formatDuration(Date.now() - started.getTime())})`);
      try {
        outcome = await HANDLERS[job.task.kind](handlerContext(workspace.dir));
      } finally {
        await workspace.release();
      }
    }
  } catch (e) {
    const message = isForgeError(e) ? e.format() : `worker error: ${(e as Error).message}`;
    log.write('forge', message);
    outcome = { status: 'failed', message: message.slice(0, 4000), exitCode: 1, steps: [], outputs: {} };
  } finally {
    clearTimeout(timeout);
    untrack();
    watch.stop();
  }
  const s = stop as Stop | undefined;
  if (s?.kind === 'drain') {
    // Given back: another worker takes the job now, from the start.
    log.write('forge', `${ctx.worker} is stopping: job handed back to the pool`);
    await log.close();
    clearInterval(heartbeat);
    await ctx.store.update(job.id, (st) => (st.state === 'running' && st.worker === ctx.worker ? { ...st, state: 'queued' } : undefined));
    msg.nak();
    return;
  }
  const status: Outcome = s?.kind === 'cancel' ? 'cancelled' : s?.kind === 'timeout' ? 'timed-out' : outcome.status;
  const message = s?.kind === 'cancel' ? s.reason : s?.kind === 'timeout' ? `timed out after ${formatDuration(job.timeoutMs)}` : outcome.message;
  log.write('forge', `job ${status}: ${message}`);
  await log.close();
  let final: JobResult = { ...result(job, ctx, claimed.value, status, message, status === 'succeeded' ? 0 : outcome.exitCode || 1, started), steps: outcome.steps, outputs: outcome.outputs, ...(cacheHit === undefined ? {} : { cacheHit }) };
  final = await recordExecution(ctx, job, final);
  // The claim's revision, unless progress moved it since (then finish reads it again).
  await ctx.store.finish(job.id, final, progressed ? undefined : claimed);
  if (status === 'failed' || status === 'timed-out') {
    // Fail-fast: every worker stops this run's other jobs.
    await ctx.store.cancelRun(job.runId, { reason: `${job.taskId} ${status === 'failed' ? 'failed' : 'timed out'}`, taskId: job.taskId, at: new Date().toISOString() });
  }
  clearInterval(heartbeat);
  ackSafely(msg);
  ctx.metrics.jobs.inc({ pool: job.pool, outcome: status });
  ctx.metrics.runTime.observe({ pool: job.pool, outcome: status }, (Date.now() - started.getTime()) / 1000);
  ctx.log.info({ job: job.id, status, ms: Date.now() - started.getTime() }, message);
}

/**
 * Writes the job to the records before the result is published: retried, and when the database
 * stays unreachable the job ends `error` (reference §2.8: a persistent records failure errors the
 * pipeline) — never a green task without its record.
 */
async function recordExecution(ctx: JobRunContext, job: Job, final: JobResult): Promise<JobResult> {
  if (!ctx.records) return final;
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.records.recordJob(job, final);
      return final;
    } catch (e) {
      if (attempt >= 4) {
        ctx.log.error({ job: job.id, err: (e as Error).message }, 'records database unavailable');
        return { ...final, status: 'error', exitCode: 1, message: `the records database did not take the execution of ${job.taskId} (${final.status}): ${(e as Error).message}`.slice(0, 4000) };
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  }
}

function result(job: Job, ctx: JobRunContext, claimed: JobState, status: Outcome, message: string, exitCode: number, started: Date): JobResult {
  return { jobId: job.id, status, message: message.slice(0, 4000), exitCode, steps: [], outputs: {}, worker: ctx.worker, attempt: claimed.attempt || 1, round: claimed.round ?? 0, startedAt: started.toISOString(), finishedAt: new Date().toISOString() };
}

function serverAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const [a = 0, b = 0] = (version ?? '0.0').split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

const NOT_JSON = Symbol('not JSON');

function safeJson(msg: JsMsg): unknown {
  try {
    return msg.json();
  } catch {
    return NOT_JSON;
  }
}

function poolOf(subject: string): string {
  return subject.split('.')[1] ?? 'unknown';
}

/**
 * The result is stored before the ack, so the ack needs no confirmation: one lost (NATS away)
 * only means a redelivery, which finds the final state and acks without running the job again.
 */
function ackSafely(msg: JsMsg): void {
  msg.ack();
}
