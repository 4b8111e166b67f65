import type { NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { z } from 'zod';
import { logLineSchema, type LogLine } from './job.ts';
import { LOG_STREAM, logSubject } from './pools.ts';

/**
 * A job's log lines on `pipeline.logs.<jobId>`, in order. The worker batches lines into
 * messages (lines written within LINGER_MS travel together, so a short job's whole log and its
 * end mark are one message) and keeps at most `maxBuffered` lines waiting (when NATS is away,
 * further lines are dropped and counted, and a line says how many). The dispatcher of a new job
 * follows the subject live; a restarted one, or one that missed a message, replays the stream.
 */
const batchSchema = z.object({ lines: z.array(logLineSchema), end: z.number().int().optional() });
const MAX_LINE = 16 * 1024;
const MAX_BATCH_BYTES = 32 * 1024;
const LINGER_MS = 20;

export class LogPublisher {
  private readonly js: JetStreamClient;
  private readonly queue: LogLine[] = [];
  private seq = 0;
  private dropped = 0;
  private pumping: Promise<void> | undefined;
  private lingering: NodeJS.Timeout | undefined;

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
    if (!this.pumping) this.lingering ??= setTimeout(() => this.startPump(), LINGER_MS);
  }

  private startPump(): void {
    clearTimeout(this.lingering);
    this.lingering = undefined;
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
    clearTimeout(this.lingering);
    this.lingering = undefined;
    const done = (async () => {
      while (this.pumping) await this.pumping;
      await this.pump(this.attempt);
    })();
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

export interface LogFollower {
  /** Reads the log from the stream's start (a dispatcher attaching to a job that already ran). */
  replay(): Promise<void>;
  /** Resolves when the end mark of `attempt` has been printed, or after `timeoutMs`. */
  ended(attempt: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Follows a job's log: `onLine` gets each line once, in order. A dispatcher that has just
 * queued the job (`replay: false`) listens on the subject itself, which costs the server no
 * consumer; one that attaches to an existing job, or that sees a line missing (core delivery is
 * at most once: a reconnect can lose a message) or no end mark in time, replays the stream from
 * the start through an ordered consumer, skipping what it already printed.
 */
export async function followLog(nc: NatsConnection, jobId: string, onLine: (line: LogLine) => void, opts: { replay: boolean }): Promise<LogFollower> {
  const next = new Map<number, number>(); // attempt → the next line's seq
  const ends = new Set<number>();
  const waiters: (() => void)[] = [];
  let replay: { stop(): Promise<void> } | undefined;
  let replaying: Promise<void> | undefined;

  const take = (data: unknown, live: boolean) => {
    const batch = batchSchema.safeParse(data);
    if (!batch.success) return; // not ours: the subject is the job's alone
    for (const line of batch.data.lines) {
      const expected = next.get(line.attempt) ?? 0;
      if (line.seq < expected) continue; // printed already
      if (live && line.seq > expected) return void startReplay().catch(() => undefined); // a message was lost: the stream has it
      next.set(line.attempt, line.seq + 1);
      onLine(line);
    }
    if (batch.data.end !== undefined) {
      ends.add(batch.data.end);
      waiters.splice(0).forEach((w) => w());
    }
  };
  const live = opts.replay ? undefined : nc.subscribe(logSubject(jobId), { callback: (err, m) => void (err || take(safeJson(m.data), true)) });
  const startReplay = () => {
    live?.unsubscribe();
    replaying ??= replayStream(nc, jobId, (d) => take(d, false)).then((r) => void (replay = r));
    return replaying;
  };
  if (opts.replay) await startReplay();

  return {
    replay: startReplay,
    async ended(attempt, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      // Live, the end mark comes right after the result; not seen soon, it was lost: replay.
      let patience = replaying ? timeoutMs : Math.min(timeoutMs, 250);
      while (!ends.has(attempt) && Date.now() < deadline) {
        const waited = Date.now();
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.max(0, Math.min(patience, deadline - Date.now()))).unref();
        });
        patience -= Date.now() - waited;
        if (!ends.has(attempt) && patience <= 0 && !replaying) {
          await startReplay().catch(() => undefined);
          patience = deadline - Date.now();
        }
      }
    },
    async stop() {
      live?.unsubscribe();
      await replaying?.catch(() => undefined);
      await replay?.stop();
    },
  };
}

/** The job's log from the stream's first message on, through an ordered consumer. */
async function replayStream(nc: NatsConnection, jobId: string, onData: (data: unknown) => void): Promise<{ stop(): Promise<void> }> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(LOG_STREAM.stream, { filter_subjects: logSubject(jobId), deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  const loop = (async () => {
    for await (const m of messages) onData(safeJson(m.data));
  })().catch(() => undefined);
  return {
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

const decoder = new TextDecoder();

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}
