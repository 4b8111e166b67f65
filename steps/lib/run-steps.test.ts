import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runSteps, type RunStepsOptions, type StepCommand } from './run-steps.ts';

// Real processes (`sh`, `sleep`, node): stage order, parallelism, fail-fast, timeouts, process
// groups, cancellation and progress, as the worker runs a phase's steps.
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-run-steps-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const sh = (name: string, stage: number, script: string, timeoutMs = 20_000): StepCommand => ({
  name,
  stage,
  argv: ['sh', '-c', script],
  cwd: tmp,
  env: { PATH: process.env.PATH },
  timeoutMs,
});

/** Appends `<name> <event> <ms since epoch>` to the events file (node: sh has no millisecond clock). */
const stamp = (name: string, event: string) => `node -e 'require("fs").appendFileSync(process.argv[1], "${name} ${event} " + Date.now() + "\\n")' ${join(tmp, 'events')}`;

function recorder(signal = new AbortController().signal) {
  const output: { step: string; stream: string; text: string }[] = [];
  const progress: [number, number][] = [];
  const opts: RunStepsOptions = {
    onOutput: (step, stream, text) => output.push({ step, stream, text }),
    onProgress: (done, total) => progress.push([done, total]),
    signal,
    killGraceMs: 300,
  };
  return { opts, output, progress, text: (step: string) => output.filter((o) => o.step === step).map((o) => o.text).join('') };
}

/** Whether `pid` is a live process (a zombie waiting for a reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 2_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (!alive(pid)) return true;
  return !alive(pid);
}

describe('runSteps', () => {
  test('runs lower stages first and equal stages in parallel; results keep the commands order', async () => {
    await rm(join(tmp, 'events'), { force: true });
    const r = recorder();
    const body = (n: string) => `${stamp(n, 'start')} && sleep 0.5 && ${stamp(n, 'end')}`;
    const outcome = await runSteps([sh('late', 7, body('late')), sh('a', 2, body('a')), sh('b', 2, body('b')), sh('neg', -1, body('neg'))], r.opts);

    expect(outcome.failure).toBeUndefined();
    expect(outcome.steps.map((s) => [s.name, s.stage, s.status, s.exitCode])).toEqual([
      ['late', 7, 'succeeded', 0],
      ['a', 2, 'succeeded', 0],
      ['b', 2, 'succeeded', 0],
      ['neg', -1, 'succeeded', 0],
    ]);
    const at: Record<string, number> = {};
    for (const line of (await readFile(join(tmp, 'events'), 'utf8')).trim().split('\n')) {
      const [name, event, ms] = line.split(' ');
      at[`${name}.${event}`] = Number(ms);
    }
    // a and b overlap: each started before the other ended.
    expect(at['a.start']!).toBeLessThan(at['b.end']!);
    expect(at['b.start']!).toBeLessThan(at['a.end']!);
    // Stages strictly in order: -1, then 2, then 7.
    expect(at['neg.end']!).toBeLessThanOrEqual(Math.min(at['a.start']!, at['b.start']!));
    expect(Math.max(at['a.end']!, at['b.end']!)).toBeLessThanOrEqual(at['late.start']!);
    expect(outcome.steps.every((s) => s.durationMs >= 400)).toBe(true);
  });

  test('reports each step’s output by stream, and progress 0/N … N/N', async () => {
    const r = recorder();
    const outcome = await runSteps([sh('one', 1, 'echo hello; echo oops >&2'), sh('two', 1, 'echo world'), sh('three', 2, 'true')], r.opts);
    expect(outcome.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(r.output.filter((o) => o.step === 'one' && o.stream === 'out').map((o) => o.text).join('')).toBe('hello\n');
    expect(r.output.filter((o) => o.step === 'one' && o.stream === 'err').map((o) => o.text).join('')).toBe('oops\n');
    expect(r.text('two')).toBe('world\n');
    expect(r.progress[0]).toEqual([0, 3]);
    expect(r.progress.at(-1)).toEqual([3, 3]);
    expect(r.progress.map(([d]) => d)).toEqual([0, 1, 2, 3]);
    expect(r.progress.every(([, t]) => t === 3)).toBe(true);
  });

  test('fail-fast: the first failure stops its running siblings and skips later stages', async () => {
    const marker = join(tmp, 'later-ran');
    const r = recorder();
    const started = Date.now();
    const outcome = await runSteps([sh('bad', 1, 'sleep 0.2; exit 3'), sh('slow', 1, 'sleep 30'), sh('later', 2, `touch ${marker}`)], r.opts);

    expect(Date.now() - started).toBeLessThan(5_000);
    const by = Object.fromEntries(outcome.steps.map((s) => [s.name, s]));
    expect(by.bad).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(by.slow).toMatchObject({ status: 'cancelled' });
    expect(by.later).toMatchObject({ status: 'skipped', exitCode: null, durationMs: 0, stage: 2 });
    expect(outcome.failure).toEqual({ step: 'bad', status: 'failed', exitCode: 3, reason: 'exited with code 3' });
    expect(existsSync(marker)).toBe(false);
    expect(r.progress.at(-1)).toEqual([2, 3]);
  });

  test('a step over its timeout is timed-out, and a later stage is skipped', async () => {
    const r = recorder();
    const outcome = await runSteps([sh('hang', 1, 'echo begun; sleep 30', 300), sh('next', 2, 'true')], r.opts);
    expect(outcome.steps[0]).toMatchObject({ name: 'hang', status: 'timed-out', exitCode: null });
    expect(outcome.steps[0]!.durationMs).toBeGreaterThanOrEqual(250);
    expect(outcome.steps[0]!.durationMs).toBeLessThan(5_000);
    expect(outcome.steps[1]).toMatchObject({ status: 'skipped' });
    expect(outcome.failure).toEqual({ step: 'hang', status: 'timed-out', exitCode: null, reason: 'timed out after 0.3 s' });
    expect(r.text('hang')).toBe('begun\n');
  });

  test('a timed-out step’s whole process group is killed, even a grandchild that ignores SIGTERM', async () => {
    const pidFile = join(tmp, 'grandchild-timeout.pid');
    const r = recorder();
    // The trap is inherited: neither sh nor its sleep dies of SIGTERM; only the group SIGKILL ends them.
    const outcome = await runSteps([sh('spawner', 1, `trap '' TERM; sleep 30 & echo $! > ${pidFile}; wait`, 400)], r.opts);
    expect(outcome.steps[0]).toMatchObject({ status: 'timed-out' });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(await waitGone(pid)).toBe(true);
  });

  test('a step that succeeds takes what it left running in its group with it', async () => {
    const pidFile = join(tmp, 'grandchild-left.pid');
    const r = recorder();
    const outcome = await runSteps([sh('leaver', 1, `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}`)], r.opts);
    expect(outcome.steps[0]).toMatchObject({ status: 'succeeded', exitCode: 0 });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(await waitGone(pid)).toBe(true);
  });

  test('the abort signal cancels running steps and skips later stages, without a failure', async () => {
    const ctl = new AbortController();
    const r = recorder(ctl.signal);
    setTimeout(() => ctl.abort(), 300);
    const started = Date.now();
    const outcome = await runSteps([sh('running', 1, 'sleep 30'), sh('sibling', 1, 'sleep 30'), sh('after', 2, 'true')], r.opts);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(outcome.steps.map((s) => s.status)).toEqual(['cancelled', 'cancelled', 'skipped']);
    expect(outcome.failure).toBeUndefined();
  });

  test('an already aborted signal runs nothing', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const marker = join(tmp, 'aborted-ran');
    const r = recorder(ctl.signal);
    const outcome = await runSteps([sh('x', 1, `touch ${marker}`), sh('y', 2, `touch ${marker}`)], r.opts);
    expect(outcome.steps.map((s) => s.status)).toEqual(['skipped', 'skipped']);
    expect(existsSync(marker)).toBe(false);
  });

  test('a command that cannot start fails with exitCode null and says why in its output', async () => {
    const r = recorder();
    const missing = join(tmp, 'no-such-binary');
    const outcome = await runSteps([{ ...sh('ghost', 1, ''), argv: [missing, '--flag'] }, sh('then', 2, 'true')], r.opts);
    expect(outcome.steps[0]).toMatchObject({ status: 'failed', exitCode: null });
    expect(outcome.steps[1]).toMatchObject({ status: 'skipped' });
    expect(outcome.failure).toEqual({ step: 'ghost', status: 'failed', exitCode: null, reason: 'could not start' });
    expect(r.output.filter((o) => o.step === 'ghost')).toEqual([{ step: 'ghost', stream: 'err', text: expect.stringMatching(new RegExp(`^cannot start ${missing}: .*ENOENT.*\\n$`)) }]);
  });

  test('the first failure is the one reported when siblings fail after it', async () => {
    const r = recorder();
    const outcome = await runSteps([sh('second', 1, 'sleep 0.6; exit 9'), sh('first', 1, 'sleep 0.1; exit 4')], r.opts);
    expect(outcome.failure).toMatchObject({ step: 'first', exitCode: 4 });
    expect(outcome.steps.map((s) => s.status)).toEqual(['cancelled', 'failed']);
  });
});
