import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { z } from 'zod';
import { logLineSchema, type LogLine } from './job.ts';
import { LOG_STREAM, logSubject } from './pools.ts';

/**
 * A job's log lines on `pipeline.logs.<jobId>`, in order. The worker batches lines into
 * messages and keeps at most `maxBuffered` lines waiting (when NATS is away, further lines are
 * dropped and counted, and a line says how many); the dispatcher replays them from the start,
 * so a restarted dispatcher prints the whole log again.
 */
const batchSchema = z.object({ lines: z.array(logLineSchema), end: z.number().int().optional() });
const MAX_LINE = 16 * 1024;
const MAX_BATCH_BYTES = 32 * 1024;

export class LogPublisher {
  private readonly js: JetStreamClient;
  private readonly queue: LogLine[] = [];
  private seq = 0;
  private dropped = 0;
  private pumping: Promise<void> | undefined;

  constructor(
    nc: NatsConnection,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly maxBuffered = 10_000,
  ) {
    this.js = jetstream(nc);
  }

  /** Output not yet ended by a newline, per step and stream: a line is published whole (and masked whole). */
  private readonly partial = new Map<string, string>();

  /**
   * Queues the complete lines of `text`: a chunk of a step's output (`out`/`err`, whose last
   * unfinished line waits for the rest), or a message of the worker's own (`forge`, always whole).
   */
  write(stream: LogLine['stream'], text: string, step?: string): void {
    const key = `${step ?? ''}\0${stream}`;
    const lines = ((this.partial.get(key) ?? '') + text + (stream === 'forge' ? '\n' : '')).split(/\r?\n/);
    let rest = lines.pop()!;
    if (rest.length > MAX_LINE) {
      lines.push(rest);
      rest = '';
    }
    this.partial.set(key, rest);
    this.enqueue(stream, lines, step);
  }

  private enqueue(stream: LogLine['stream'], lines: string[], step?: string): void {
    for (const raw of lines) {
      if (this.queue.length >= this.maxBuffered) {
        this.dropped++;
        continue;
      }
      this.pushDropped();
      this.push(stream, this.redact(raw), step);
    }
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  /** The line that says how many lines were dropped since the last one, when some were. */
  private pushDropped(): void {
    if (this.dropped === 0) return;
    this.push('forge', `… ${this.dropped} log line(s) dropped: the log stream was not keeping up`);
    this.dropped = 0;
  }

  private push(stream: LogLine['stream'], line: string, step?: string): void {
    this.queue.push({ seq: this.seq++, attempt: this.attempt, stream, line: line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)} …(line cut at ${MAX_LINE} characters)` : line, ...(step ? { step } : {}) });
  }

  /** Values that must never appear in a log line (resolved secrets): replaced by `***`. */
  private readonly secrets: string[] = [];

  addSecret(value: string): void {
    if (value.length > 0) this.secrets.push(value);
    for (const line of value.split(/\r?\n/)) if (line.length >= 4 && line !== value) this.secrets.push(line);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }

  /** Publishes what is queued; with `end`, the last message carries the end mark (one message less). */
  private async pump(end?: number): Promise<void> {
    do {
      const batch: LogLine[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && bytes < MAX_BATCH_BYTES) {
        const line = this.queue.shift()!;
        bytes += line.line.length + 64;
        batch.push(line);
      }
      const last = this.queue.length === 0 && end !== undefined;
      if (batch.length > 0 || last) await this.publish({ lines: batch, ...(last ? { end } : {}) });
    } while (this.queue.length > 0);
  }

  private async publish(batch: z.infer<typeof batchSchema>): Promise<void> {
    for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
      try {
        await this.js.publish(logSubject(this.jobId), JSON.stringify(batch));
        return;
      } catch {
        await new Promise((r) => setTimeout(r, wait)); // NATS away: keep the lines, retry
      }
    }
  }

  /** Sends what is queued and an end mark (the dispatcher prints everything before it exits). */
  async close(timeoutMs = 10_000): Promise<void> {
    for (const [key, rest] of this.partial) {
      const [step, stream] = key.split('\0') as [string, LogLine['stream']];
      if (rest) this.enqueue(stream, [rest], step || undefined);
    }
    this.partial.clear();
    // Lines dropped after the last line that fitted are counted too, not lost without a word.
    this.pushDropped();
    const done = (async () => {
      while (this.pumping) await this.pumping;
      await this.pump(this.attempt);
    })();
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

export interface LogFollower {
  /** Resolves when the end mark of `attempt` has been printed, or after `timeoutMs`. */
  ended(attempt: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Replays a job's log from the start and follows it: `onLine` gets each line once, in order. */
export async function followLog(nc: NatsConnection, jobId: string, onLine: (line: LogLine) => void): Promise<LogFollower> {
  const js = jetstream(nc);
  // An ordered consumer lingers on the server for its inactive threshold once its dispatcher is
  // gone (5 min by default): short here, or thousands of finished jobs hit the consumer limit.
  const consumer = await js.consumers.get(LOG_STREAM.stream, { filter_subjects: logSubject(jobId), deliver_policy: DeliverPolicy.All });
  const ends = new Set<number>();
  const waiters: (() => void)[] = [];
  const messages = await consumer.consume();
  const loop = (async () => {
    for await (const m of messages) {
      const batch = batchSchema.safeParse(m.json());
      if (!batch.success) continue; // not ours: the subject is the job's alone
      for (const line of batch.data.lines) onLine(line);
      if (batch.data.end !== undefined) {
        ends.add(batch.data.end);
        waiters.splice(0).forEach((w) => w());
      }
    }
  })().catch(() => undefined);
  return {
    async ended(attempt, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!ends.has(attempt) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
        });
      }
    },
    async stop() {
      // Closing leaves an ordered consumer on the server until its inactive threshold (5 min):
      // delete it, or a busy pool runs into the server's consumer limit.
      const name = await consumer.info(true).then((i) => i.name, () => undefined);
      await messages.close();
      await loop;
      if (name) await jetstreamManager(nc).then((jsm) => jsm.consumers.delete(LOG_STREAM.stream, name)).catch(() => undefined);
    },
  };
}
