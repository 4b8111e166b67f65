import { jetstream, type Consumer } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Job, RunCancel } from '../lib/pool/job.ts';
import { DEFAULT_ACK_WAIT_MS, STATE_TTL_MS, type PoolSpec } from '../lib/pool/pools.ts';
import { ensurePool } from '../lib/pool/setup.ts';
import { JobStore } from '../lib/pool/state.ts';
import type { ReleaseServices } from './release-services.ts';
import type { ExecutionRecords } from '../lib/records/executions.ts';
import { GitCache } from './git-cache.ts';
import { runDelivery, type Stop } from './job-run.ts';
import { WorkerMetrics } from './metrics.ts';

/**
 * A long-running pool worker: `slots` loops, each pulling one job at a time from the pool's
 * durable consumer, so a worker never holds more jobs than it can run. It watches run cancels
 * (fail-fast) and, asked to stop, takes no new job, lets running ones finish within the grace
 * period and hands the rest back to the pool.
 */
export interface WorkerOptions {
  nc: NatsConnection;
  pool: PoolSpec;
  name: string;
  slots: number;
  cacheDir: string;
  cacheMaxBytes?: number;
  secretsDir: string;
  earthly: string;
  ackWaitMs?: number;
  replicas?: number;
  log: Logger;
  metrics?: WorkerMetrics;
  env?: NodeJS.ProcessEnv;
  /** Where finished jobs are recorded (PostgreSQL); none: not recorded. */
  records?: ExecutionRecords;
  /** Release settings and records (artifact and release pools). */
  release?: ReleaseServices;
}

export class Worker {
  readonly metrics: WorkerMetrics;
  private draining = false;
  private readonly running = new Map<string, { job: Job; abort: (s: Stop) => void }>();
  private loops: Promise<void>[] = [];
  private stopRuns: (() => void) | undefined;

  constructor(private readonly opts: WorkerOptions) {
    this.metrics = opts.metrics ?? new WorkerMetrics();
  }

  get busy(): number {
    return this.running.size;
  }

  get accepting(): boolean {
    return !this.draining;
  }

  async start(): Promise<void> {
    const { nc, pool, log } = this.opts;
    const ackWaitMs = this.opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    await ensurePool(nc, pool, { ackWaitMs, replicas: this.opts.replicas });
    const store = await JobStore.open(nc);
    const cache = new GitCache(this.opts.cacheDir, this.opts.cacheMaxBytes);
    await cache.prune();
    // Every cancelled run, known here so a claim needs no question to the server; a job claimed
    // before its run's cancel arrives is running by then, and stopped below.
    const cancelled = new Map<string, RunCancel>();
    const watcher = await store.watchRuns((runId, cancel) => {
      if (!cancel) return void cancelled.delete(runId); // cleared: its tasks are run again
      cancelled.set(runId, cancel);
      forgetOld(cancelled);
      for (const { job, abort } of this.running.values()) if (job.runId === runId && job.taskId !== cancel.taskId) abort({ kind: 'cancel', reason: cancel.reason });
    });
    this.stopRuns = () => watcher.stop();
    const consumer = await jetstream(nc).consumers.get(pool.stream, pool.consumer);
    const ctx = {
      nc, store, cache, metrics: this.metrics, log, worker: this.opts.name, ackWaitMs, runCancel: (runId: string) => cancelled.get(runId),
      workerEnv: this.opts.env ?? process.env, secretsDir: this.opts.secretsDir, earthly: this.opts.earthly, records: this.opts.records, release: this.opts.release,
      track: (job: Job, abort: (s: Stop) => void) => {
        this.running.set(job.id, { job, abort });
        return () => this.running.delete(job.id);
      },
    };
    this.loops = Array.from({ length: this.opts.slots }, (_, slot) => this.loop(consumer, slot, ctx, cache));
    log.info({ pool: pool.name, slots: this.opts.slots, stream: pool.stream, consumer: pool.consumer }, 'worker started');
  }

  private async loop(consumer: Consumer, slot: number, ctx: Parameters<typeof runDelivery>[1], cache: GitCache): Promise<void> {
    while (!this.draining) {
      let msg;
      try {
        msg = await consumer.next({ expires: 5_000 });
      } catch (e) {
        this.opts.log.warn({ slot, err: (e as Error).message }, 'cannot pull from the pool: retrying');
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      if (!msg) continue;
      if (this.draining) {
        msg.nak(); // taken just as the worker stops: straight back to the pool
        break;
      }
      try {
        await runDelivery(msg, ctx);
      } catch (e) {
        // State or NATS failed mid-way: the delivery is not acked, so the job comes back.
        this.opts.log.error({ slot, err: e }, 'job handling failed: it will be redelivered');
      }
      await cache.evictIfGrown().catch(() => undefined);
    }
  }

  /**
   * Stops: no new jobs; running jobs get `graceMs` to finish, then are handed back (nak) for
   * another worker. Resolves when every slot has ended.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const timer = setTimeout(() => {
      for (const { abort } of this.running.values()) abort({ kind: 'drain' });
    }, graceMs);
    await Promise.allSettled(this.loops);
    clearTimeout(timer);
    this.stopRuns?.();
  }
}

/** Cancels older than the run bucket keeps them (its TTL) are forgotten: the map stays bounded. */
function forgetOld(cancelled: Map<string, RunCancel>): void {
  const oldest = Date.now() - STATE_TTL_MS;
  for (const [runId, cancel] of cancelled) {
    if (!(Date.parse(cancel.at) < oldest)) break; // in arrival order: the rest are newer
    cancelled.delete(runId);
  }
}
