import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { ForgeError } from '../errors.ts';
import { isTerminal, jobStateSchema, resultSchema, runCancelSchema, type JobResult, type JobState, type RunCancel } from './job.ts';
import { JOB_BUCKET, jobEvents, RESULT_BUCKET, RUN_BUCKET, runEvents } from './pools.ts';

/**
 * Job state by job id (the `forge-jobs` bucket), run cancels (`forge-runs`) and large results
 * (`forge-results`). Every change is compare-and-set on the entry's revision, so a dispatcher
 * cancelling and a worker starting the same job cannot both win.
 */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/** A watch of one entry: `refresh` reads it now (instead of waiting for the next poll). */
export interface Watch {
  refresh(): Promise<void>;
  stop(): void;
}

const WRONG_LAST_SEQUENCE = 10071;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class JobStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly jobs: KV,
    private readonly runs: KV,
    private readonly results: ObjectStore,
    /** Results up to this many bytes travel inside the state entry; larger ones go to the object store. */
    readonly inlineLimit: number,
  ) {}

  /**
   * Binds to the buckets without asking the server anything: a dispatcher opens the store once
   * per job, and every question is on its path. A missing bucket shows on first use, as
   * POOL_UNAVAILABLE (see `throwIfMissing`).
   */
  static async open(nc: NatsConnection): Promise<JobStore> {
    const js = jetstream(nc, { checkAPI: false });
    const kvm = new Kvm(js);
    const [jobs, runs, results] = await Promise.all([kvm.open(JOB_BUCKET), kvm.open(RUN_BUCKET), new Objm(js).open(RESULT_BUCKET, false)]);
    // Headroom under the server's max_payload (1 MB by default) for the state around the result.
    const inlineLimit = Math.min(1024 * 1024, nc.info?.max_payload ?? 1024 * 1024) - 64 * 1024;
    return new JobStore(nc, jobs, runs, results, inlineLimit);
  }

  async get(jobId: string): Promise<Versioned<JobState> | undefined> {
    const entry = await this.jobs.get(jobId).catch(rethrow);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { value: jobStateSchema.parse(JSON.parse(decoder.decode(entry.value))), revision: entry.revision };
  }

  /** Creates the state if no job of that id exists; otherwise returns the existing one (a retried dispatcher). */
  async create(state: JobState): Promise<{ created: boolean; state: Versioned<JobState> }> {
    try {
      const revision = await this.jobs.create(state.jobId, encoder.encode(JSON.stringify(state)));
      this.notify(jobEvents(state.jobId));
      return { created: true, state: { value: state, revision } };
    } catch (e) {
      throwIfMissing(e);
      const existing = await this.get(state.jobId);
      if (!existing) throw e;
      return { created: false, state: existing };
    }
  }

  /**
   * Read-modify-write under compare-and-set: `change` returns the new state, or undefined to
   * leave it as it is. Retried when another writer got in between; returns what is stored after.
   */
  async update(jobId: string, change: (current: JobState) => JobState | undefined, known?: Versioned<JobState>): Promise<Versioned<JobState>> {
    for (let attempt = 0; ; attempt++) {
      // A writer that holds the latest revision (the worker after its claim) skips the read.
      const current = attempt === 0 && known ? known : await this.get(jobId);
      if (!current) throw new ForgeError('JOB_INVALID', `job ${jobId} has no state in ${JOB_BUCKET}`);
      const next = change(current.value);
      if (!next) return current;
      next.updatedAt = new Date().toISOString();
      try {
        const revision = await this.jobs.update(jobId, encoder.encode(JSON.stringify(jobStateSchema.parse(next))), current.revision);
        this.notify(jobEvents(jobId));
        return { value: next, revision };
      } catch (e) {
        throwIfMissing(e);
        const conflict = e instanceof JetStreamApiError ? e.code === WRONG_LAST_SEQUENCE : /wrong last sequence/i.test(String(e));
        if (!conflict || attempt >= 50) throw e;
      }
    }
  }

  /** Stores a result on the state (inline or as an object) and sets the terminal state with it. */
  async finish(jobId: string, result: JobResult, known?: Versioned<JobState>): Promise<Versioned<JobState>> {
    const bytes = encoder.encode(JSON.stringify(resultSchema.parse(result)));
    let resultObject: JobState['resultObject'];
    if (bytes.length > this.inlineLimit) {
      await this.results.putBlob({ name: jobId }, bytes);
      resultObject = { name: jobId, bytes: bytes.length };
    }
    return this.update(
      jobId,
      (s) => ({ ...s, state: result.status, ...(resultObject ? { resultObject, result: undefined } : { result, resultObject: undefined }) }),
      known,
    );
  }

  /**
   * Queues a job that ended without success again, as its next round (a retried task: `argo
   * retry`). Returns the queued state, or undefined when the job is not failed any more (another
   * dispatcher of the same task queued it first, or it succeeded).
   */
  async requeue(jobId: string, known: Versioned<JobState>): Promise<Versioned<JobState> | undefined> {
    const s = await this.update(
      jobId,
      (st) => (isTerminal(st.state) && st.state !== 'succeeded' ? { jobId: st.jobId, state: 'queued', subject: st.subject, pool: st.pool, attempt: st.attempt, round: (st.round ?? 0) + 1, updatedAt: '' } : undefined),
      known,
    );
    return s.value.state === 'queued' && s.revision !== known.revision ? s : undefined;
  }

  async readResult(state: JobState): Promise<JobResult | undefined> {
    if (state.result) return state.result;
    if (!state.resultObject) return undefined;
    const blob = await this.results.getBlob(state.resultObject.name);
    if (!blob) throw new ForgeError('JOB_FAILED', `the result of job ${state.jobId} (${state.resultObject.bytes} bytes) is gone from ${RESULT_BUCKET}`);
    return resultSchema.parse(JSON.parse(decoder.decode(blob)));
  }

  /**
   * Calls `onChange` with the job's state now and after each change, until `stop()`. Writers
   * announce a change on a core subject (`forge.events.job.<id>`), which costs the server nothing
   * per watcher — unlike a KV watch, a JetStream consumer each; core delivery is at most once, so a
   * slow poll catches what a reconnect lost.
   */
  async watch(jobId: string, onChange: (state: JobState) => void, opts: { pollMs?: number; initial?: boolean } = {}): Promise<Watch> {
    let last = -1;
    const check = async () => {
      const current = await this.get(jobId).catch(() => undefined);
      if (current && current.revision > last) {
        last = current.revision;
        onChange(current.value);
      }
    };
    return this.follow(jobEvents(jobId), check, opts.pollMs ?? 2_000, opts.initial ?? true);
  }

  private async follow(subject: string, check: () => Promise<void>, pollMs: number, initial = true): Promise<Watch> {
    let queued = Promise.resolve();
    const run = () => (queued = queued.then(check)); // one check at a time, in order
    const sub = this.nc.subscribe(subject, { callback: () => void run() });
    const timer = setInterval(() => void run(), pollMs);
    // Without the initial read, a change between the caller's last read and the subscription
    // is seen by the first poll.
    if (initial) await run();
    return {
      refresh: run,
      stop: () => {
        clearInterval(timer);
        sub.unsubscribe();
      },
    };
  }

  private notify(subject: string): void {
    try {
      this.nc.publish(subject);
    } catch {
      // closed or reconnecting: the watchers' poll sees the change
    }
  }

  /** Marks a run cancelled; the first cancel wins (it names the task that failed first). */
  async cancelRun(runId: string, cancel: RunCancel): Promise<RunCancel> {
    try {
      await this.runs.create(runId, encoder.encode(JSON.stringify(cancel)));
      this.notify(runEvents(runId));
      return cancel;
    } catch {
      return (await this.runCancel(runId)) ?? cancel;
    }
  }

  /** Forgets a run's cancel: its failed tasks are being run again (`argo retry`). */
  async clearRunCancel(runId: string): Promise<void> {
    await this.runs.delete(runId).catch(rethrow);
    this.notify(runEvents(runId));
  }

  async runCancel(runId: string): Promise<RunCancel | undefined> {
    const entry = await this.runs.get(runId).catch(rethrow);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return runCancelSchema.parse(JSON.parse(decoder.decode(entry.value)));
  }

  /**
   * Calls `onChange` for every run cancelled, those still in the bucket first, then each new one,
   * and with undefined for a cancel cleared (a worker: one KV watch for all runs).
   */
  async watchRuns(onChange: (runId: string, cancel: RunCancel | undefined) => void): Promise<{ stop(): void }> {
    const it = await this.runs.watch();
    void (async () => {
      for await (const entry of it) {
        onChange(entry.key, entry.operation === 'PUT' ? runCancelSchema.parse(JSON.parse(decoder.decode(entry.value))) : undefined);
      }
    })().catch(() => undefined);
    return { stop: () => it.stop() };
  }

  /** Calls `onCancel` once if the run is or becomes cancelled (a dispatcher: its own run only). */
  async watchRun(runId: string, onCancel: (cancel: RunCancel) => void, opts: { pollMs?: number; initial?: boolean } = {}): Promise<Watch> {
    let seen = false;
    return this.follow(runEvents(runId), async () => {
      if (seen) return;
      const cancel = await this.runCancel(runId).catch(() => undefined);
      if (cancel) {
        seen = true;
        onCancel(cancel);
      }
    }, opts.pollMs ?? 2_000, opts.initial ?? true);
  }
}

/**
 * A bucket that is not there (no pool has been set up on this server: "no responders" to the
 * bucket's subject, or "stream not found") is POOL_UNAVAILABLE, naming what to run.
 */
function throwIfMissing(e: unknown): void {
  const text = String((e as Error)?.message ?? e);
  if (/no responders|stream not found/i.test(text)) {
    throw new ForgeError('POOL_UNAVAILABLE', `the pool buckets (${JOB_BUCKET}, ${RUN_BUCKET}, ${RESULT_BUCKET}) are missing: start a worker or run \`forge worker --setup-only\` first (${text})`, [], { cause: e });
  }
}

function rethrow(e: unknown): never {
  throwIfMissing(e);
  throw e;
}
