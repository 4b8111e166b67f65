import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNats, type NatsServer } from '../../local/nats.ts';
import { connectNats } from './connect.ts';
import type { LogLine } from './job.ts';
import { followLog, LogPublisher } from './logs.ts';
import { ensureBuckets } from './setup.ts';

// Log lines through a real nats-server's JetStream: order, whole-line masking, long lines, the
// bounded buffer while NATS is away, and the end mark.
let nats: NatsServer;
let nc: NatsConnection;
let n = 0;
const nextJob = () => `wf-logs.job-${++n}`;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: 'logs-test' });
  await ensureBuckets(nc);
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Everything published for `jobId` up to the end mark of `attempt`. */
async function collect(jobId: string, attempt = 1, timeoutMs = 15_000): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  const follower = await followLog(nc, jobId, (l) => lines.push(l), { replay: true });
  await follower.ended(attempt, timeoutMs);
  await follower.stop();
  return lines;
}

describe('LogPublisher and followLog', () => {
  test('lines arrive once each, in order, with their step, stream and attempt', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 2);
    log.write('forge', 'phase lint: 2 step(s)');
    for (let i = 0; i < 300; i++) log.write('out', `compile line ${i}\n`, 'compile');
    log.write('err', 'warning: a\r\nwarning: b\n', 'compile');
    log.write('out', 'tail without newline', 'docs');
    await log.close();
    const lines = await collect(id, 2);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i));
    expect(lines.every((l) => l.attempt === 2)).toBe(true);
    expect(lines[0]).toEqual({ seq: 0, attempt: 2, stream: 'forge', line: 'phase lint: 2 step(s)' });
    expect(lines.slice(1, 301).map((l) => l.line)).toEqual(Array.from({ length: 300 }, (_, i) => `compile line ${i}`));
    expect(lines.slice(1, 301).every((l) => l.step === 'compile' && l.stream === 'out')).toBe(true);
    expect(lines.slice(301).map((l) => [l.step, l.stream, l.line])).toEqual([
      ['compile', 'err', 'warning: a'],
      ['compile', 'err', 'warning: b'],
      ['docs', 'out', 'tail without newline'],
    ]);
  });

  test('a follower that starts late replays the log from the start', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1);
    log.write('out', 'early\n', 's');
    await log.close();
    expect((await collect(id)).map((l) => l.line)).toEqual(['early']);
    expect((await collect(id)).map((l) => l.line)).toEqual(['early']);
  });

  test('a chunk split inside a line and inside a secret is published as one masked line', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1);
    log.addSecret('sup3r-s3cret-value');
    log.addSecret('first-line\nsecond-line');
    log.write('out', 'token=sup3r-s', 'deploy');
    log.write('out', '3cret-value and more\nkey: first-', 'deploy');
    log.write('err', 'interleaved on stderr\n', 'deploy');
    log.write('out', 'line\nsecond-line\n', 'deploy');
    log.write('out', 'sup3r-s3cret-val', 'other');
    log.write('out', 'ue at close', 'other');
    await log.close();
    const lines = await collect(id);
    expect(lines.map((l) => [l.step, l.stream, l.line])).toEqual([
      ['deploy', 'out', 'token=*** and more'],
      ['deploy', 'err', 'interleaved on stderr'],
      ['deploy', 'out', 'key: ***'],
      ['deploy', 'out', '***'],
      ['other', 'out', '*** at close'],
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/sup3r|s3cret|first-line|second-line/);
  });

  test('a line over 16 KiB is cut with a marker', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1);
    log.write('out', `${'x'.repeat(20_000)}\nshort\n`, 'big');
    log.write('out', 'y'.repeat(40_000), 'unterminated');
    await log.close();
    const lines = await collect(id);
    expect(lines.map((l) => l.line.length)).toEqual([16 * 1024 + ' …(line cut at 16384 characters)'.length, 5, 16 * 1024 + ' …(line cut at 16384 characters)'.length]);
    expect(lines[0]!.line).toBe(`${'x'.repeat(16_384)} …(line cut at 16384 characters)`);
    expect(lines[1]!.line).toBe('short');
    expect(lines[2]!.line.startsWith('y'.repeat(16_384))).toBe(true);
  });

  test('ended(attempt) waits for close(), and only for that attempt', async () => {
    const id = nextJob();
    const lines: LogLine[] = [];
    const follower = await followLog(nc, id, (l) => lines.push(l), { replay: false });
    const first = new LogPublisher(nc, id, 1);
    first.write('out', 'attempt one\n', 's');
    let ended = false;
    const waiting = follower.ended(2, 15_000).then(() => (ended = true));
    await first.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(ended).toBe(false); // attempt 1 ended, not 2
    const second = new LogPublisher(nc, id, 2);
    second.write('out', 'attempt two\n', 's');
    await new Promise((r) => setTimeout(r, 300));
    expect(ended).toBe(false);
    await second.close();
    await waiting;
    expect(ended).toBe(true);
    await follower.stop();
    expect(lines.map((l) => [l.attempt, l.line])).toEqual([[1, 'attempt one'], [2, 'attempt two']]);
  });

  test('a live follower that missed a message replays the stream, printing nothing twice', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1);
    log.write('out', 'before the follower\n', 's');
    await new Promise((r) => setTimeout(r, 200)); // published before anyone listened
    const lines: LogLine[] = [];
    const follower = await followLog(nc, id, (l) => lines.push(l), { replay: false });
    log.write('out', 'after\n', 's');
    await new Promise((r) => setTimeout(r, 200));
    log.write('out', 'last\n', 's');
    await log.close();
    await follower.ended(1, 10_000);
    await follower.stop();
    expect(lines.map((l) => [l.seq, l.line])).toEqual([[0, 'before the follower'], [1, 'after'], [2, 'last']]);
  });

  test('a live follower whose end mark never came live finds it in the stream', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1);
    log.write('forge', 'the whole log');
    await log.close(); // line and end mark in one message, before the follower listens
    const lines: LogLine[] = [];
    const follower = await followLog(nc, id, (l) => lines.push(l), { replay: false });
    const started = Date.now();
    await follower.ended(1, 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await follower.stop();
    expect(lines.map((l) => l.line)).toEqual(['the whole log']);
  });

  test('ended() gives up after its timeout when no end mark comes', async () => {
    const follower = await followLog(nc, nextJob(), () => undefined, { replay: false });
    const started = Date.now();
    await follower.ended(1, 400);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(Date.now() - started).toBeLessThan(3_000);
    await follower.stop();
  });
});

describe('while NATS is away', () => {
  const DROPPED = /^… (\d+) log line\(s\) dropped: the log stream was not keeping up$/;

  /** A follower that stays attached across the NATS restart, and a way to wait on what it saw. */
  async function watch(jobId: string) {
    const seen: LogLine[] = [];
    const follower = await followLog(nc, jobId, (l) => seen.push(l), { replay: false });
    const until = async (what: string, ok: () => boolean, ms = 30_000) => {
      for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 20))) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: saw ${JSON.stringify(seen.map((l) => l.line))}`);
      }
    };
    return { seen, follower, until };
  }

  /** Stops NATS, writes `count` lines one by one, starts NATS again. */
  async function writeWhileAway(log: LogPublisher, count: number) {
    await nats.kill();
    try {
      for (let i = 1; i <= count; i++) {
        log.write('out', `away ${i}\n`, 's');
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await nats.start();
    }
  }

  /** Each line once, in order: no batch published twice by the retries. */
  const expectOnceInOrder = (lines: LogLine[]) => expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i));

  test('the buffer is bounded, and a line counts the dropped ones once NATS is back', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1, 5);
    const w = await watch(id);
    log.write('out', 'before\n', 's');
    await w.until('the first line', () => w.seen.length === 1);

    await writeWhileAway(log, 40);
    // What was kept reaches the stream once NATS is back; then the job writes on.
    await w.until('the buffered lines', () => w.seen.some((l) => l.line.startsWith('away ')) && w.seen.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    log.write('out', 'back\n', 's');
    await log.close(30_000);
    await w.follower.ended(1, 30_000);
    await w.follower.stop();

    const text = w.seen.map((l) => l.line);
    expect(text[0]).toBe('before');
    expect(text.at(-1)).toBe('back');
    const drops = text.filter((l) => DROPPED.test(l));
    expect(drops).toHaveLength(1);
    expect(text.at(-2)).toBe(drops[0]);
    const away = text.filter((l) => l.startsWith('away '));
    // Every line written is delivered or counted as dropped; only a bounded number were kept.
    expect(away.length + Number(DROPPED.exec(drops[0]!)![1])).toBe(40);
    // The batch in flight (lines that lingered together, at most maxBuffered) + maxBuffered waiting.
    expect(away.length).toBeLessThanOrEqual(5 + 5);
    expect(away).toEqual(away.map((_, i) => `away ${i + 1}`));
    expectOnceInOrder(w.seen);
  }, 90_000);

  test('lines dropped at the very end are still counted when the log is closed', async () => {
    const id = nextJob();
    const log = new LogPublisher(nc, id, 1, 5);
    const w = await watch(id);
    log.write('out', 'before\n', 's');
    await w.until('the first line', () => w.seen.length === 1);

    await writeWhileAway(log, 40);
    await log.close(30_000);
    await w.follower.ended(1, 30_000);
    await w.follower.stop();

    const text = w.seen.map((l) => l.line);
    const drops = text.filter((l) => DROPPED.test(l));
    expect(drops).toHaveLength(1);
    const away = text.filter((l) => l.startsWith('away '));
    expect(away.length + Number(DROPPED.exec(drops[0]!)![1])).toBe(40);
    expectOnceInOrder(w.seen);
  }, 90_000);
});
