import { spawn } from 'node:child_process';
import type { StepResult } from './pool/job.ts';

/**
 * Runs a task's steps the way the platform specifies (reference §2.1, §2.8): by stage (equal
 * priority together, higher first), and fail-fast — the first step that fails or times out stops
 * its running siblings and skips every later stage. Each step is its own process group, so
 * stopping a step stops everything it started.
 */
export interface StepCommand {
  name: string;
  stage: number;
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export interface RunStepsOptions {
  /** A chunk of a step's output (`out`/`err`). */
  onOutput(step: string, stream: 'out' | 'err', text: string): void;
  onProgress(done: number, total: number): void;
  /** Aborted when the job is cancelled (Argo stopped it, its run failed, the worker is draining). */
  signal: AbortSignal;
  /** Time between SIGTERM and SIGKILL of a stopped step (ms). */
  killGraceMs?: number;
}

export interface StepsOutcome {
  steps: StepResult[];
  /** The step that failed first and why, when one did. */
  failure?: { step: string; status: 'failed' | 'timed-out'; exitCode: number | null; reason: string };
}

export async function runSteps(commands: StepCommand[], opts: RunStepsOptions): Promise<StepsOutcome> {
  const stages = [...new Set(commands.map((c) => c.stage))].sort((a, b) => a - b);
  const results = new Map<string, StepResult>();
  let failure: StepsOutcome['failure'];
  let done = 0;
  opts.onProgress(0, commands.length);
  for (const stage of stages) {
    const batch = commands.filter((c) => c.stage === stage);
    if (failure || opts.signal.aborted) {
      for (const c of batch) results.set(c.name, { name: c.name, stage, status: 'skipped', exitCode: null, durationMs: 0 });
      continue;
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    opts.signal.addEventListener('abort', onAbort);
    await Promise.all(
      batch.map(async (c) => {
        const r = await runOne(c, stop.signal, opts);
        results.set(c.name, r);
        done++;
        opts.onProgress(done, commands.length);
        if ((r.status === 'failed' || r.status === 'timed-out') && !failure) {
          failure = { step: c.name, status: r.status, exitCode: r.exitCode, reason: r.status === 'timed-out' ? `timed out after ${c.timeoutMs / 1000} s` : r.exitCode === null ? 'could not start' : `exited with code ${r.exitCode}` };
          stop.abort(); // fail-fast: the stage's other steps stop now
        }
      }),
    );
    opts.signal.removeEventListener('abort', onAbort);
  }
  return { steps: commands.map((c) => results.get(c.name)!), ...(failure ? { failure } : {}) };
}

async function runOne(c: StepCommand, signal: AbortSignal, opts: RunStepsOptions): Promise<StepResult> {
  const started = performance.now();
  const result = (status: StepResult['status'], exitCode: number | null): StepResult => ({ name: c.name, stage: c.stage, status, exitCode, durationMs: Math.round(performance.now() - started) });
  if (signal.aborted) return result('cancelled', null);
  const child = spawn(c.argv[0]!, c.argv.slice(1), { cwd: c.cwd, env: c.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.setEncoding('utf8').on('data', (t: string) => opts.onOutput(c.name, 'out', t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => opts.onOutput(c.name, 'err', t));
  let stoppedBy: 'timed-out' | 'cancelled' | undefined;
  const stopGroup = (why: 'timed-out' | 'cancelled') => {
    if (stoppedBy || child.exitCode !== null || child.pid === undefined) return;
    stoppedBy = why;
    killGroup(child.pid, 'SIGTERM');
    setTimeout(() => killGroup(child.pid!, 'SIGKILL'), opts.killGraceMs ?? 5_000).unref();
  };
  const timer = setTimeout(() => stopGroup('timed-out'), c.timeoutMs);
  const onAbort = () => stopGroup('cancelled');
  signal.addEventListener('abort', onAbort);
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  clearTimeout(timer);
  signal.removeEventListener('abort', onAbort);
  // Whatever the step left running in its group goes with it.
  if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
  if (exit.error) {
    opts.onOutput(c.name, 'err', `cannot start ${c.argv[0]}: ${exit.error.message}\n`);
    return result('failed', null);
  }
  if (stoppedBy) return result(stoppedBy, exit.code);
  return result(exit.code === 0 ? 'succeeded' : 'failed', exit.code);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
