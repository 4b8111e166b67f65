import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRepo, type TempRepo } from './git-repo.ts';

const FORGE = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));

/**
 * A step script the fixture repositories carry: prints lines, sleeps, appends to a run log
 * (to count how often a step really ran), prints a secret, exits with a code (or fails only the
 * first time, `failOnce=<marker file>`, or on one attempt of its job, `failAttempt=<n>`). Its arguments
 * are the step's `args` in project.cue.
 */
const STEP = `import { appendFileSync, existsSync } from 'node:fs';
const [name, ...ops] = process.argv.slice(2);
for (const op of ops) {
  const [kind, value] = op.split('=');
  if (kind === 'runs') appendFileSync(value, name + ' ' + process.env.FORGE_JOB_ID + ' ' + process.pid + '\\n');
  if (kind === 'print') for (let i = 1; i <= Number(value); i++) console.log(name + ' line ' + i);
  if (kind === 'sleep') await new Promise((r) => setTimeout(r, Number(value)));
  if (kind === 'secret') console.log('secret is ' + process.env[value]);
  if (kind === 'big') appendFileSync(process.env.FORGE_OUTPUTS_DIR + '/big.txt', 'x'.repeat(Number(value)));
  if (kind === 'exit') process.exit(Number(value));
  if (kind === 'failOnce' && !existsSync(value)) { appendFileSync(value, 'failed once'); process.exit(5); }
  if (kind === 'failAttempt' && process.env.FORGE_JOB_ATTEMPT === value) process.exit(4);
}
`;

export interface StepDef {
  args: string[];
  priority?: number;
  timeout?: string;
  secrets?: string;
}

/** A forge repository whose projects' steps run the step script: `projects[project][phase][step]`. */
export async function poolRepo(projects: Record<string, Record<string, Record<string, StepDef>>>, phases = 'lint: {group: 1, description: "Lint", timeout: "5m", required: false}\n\ttest: {group: 2, description: "Test", timeout: "10m", required: false}'): Promise<TempRepo> {
  const files: Record<string, string> = {
    '.forge/repo.cue': `package repo\nforgeVersion: "v1.0.0"\ntagging: strategy: "monorepo"\nphases: {\n\t${phases}\n}\n`,
    'tools/step.mjs': STEP,
  };
  for (const [project, phaseMap] of Object.entries(projects)) {
    const ci = Object.entries(phaseMap)
      .map(([phase, steps]) => Object.entries(steps).map(([step, d]) => `ci: phases: ${phase}: ${step}: {action: "script", target: "node", args: ${JSON.stringify(['../../tools/step.mjs', step, ...d.args])}${d.priority !== undefined ? `, priority: ${d.priority}` : ''}${d.timeout ? `, timeout: "${d.timeout}"` : ''}${d.secrets ? `, secrets: ${d.secrets}` : ''}}`).join('\n'))
      .join('\n');
    files[`projects/${project}/.forge/project.cue`] = `package project\nname: "${project}"\n${ci}\n`;
  }
  return createRepo(files);
}

export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves once the worker logged that it started. */
  ready: Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): Promise<void>;
}

/** `forge worker` as a real process, with its own git cache in a temporary directory. */
export async function startWorker(opts: { natsUrl: string; pool: string; name: string; slots?: number; env?: NodeJS.ProcessEnv; args?: string[] }): Promise<WorkerProcess> {
  const cache = await mkdtemp(join(tmpdir(), `forge-cache-${opts.name}-`));
  const child = spawn(process.execPath, [FORGE, 'worker', '--pool', opts.pool, '--name', opts.name, '--slots', String(opts.slots ?? 2), '--cache-dir', cache, '--nats-url', opts.natsUrl, '--ack-wait-seconds', '6', '--grace-seconds', '5', ...(opts.args ?? [])], {
    env: { ...process.env, FORGE_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.includes('worker started')) markReady();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const failedStart = exited.then((code) => {
    throw new Error(`worker ${opts.name} exited (${code}) before starting:\n${out}`);
  });
  const readyOrFailed = Promise.race([ready, failedStart]);
  readyOrFailed.catch(() => undefined); // rejects only for a caller that awaits `ready`
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return {
    name: opts.name,
    child,
    output: () => out,
    exited,
    ready: readyOrFailed,
    stop,
    async cleanup() {
      await stop('SIGKILL');
      await rm(cache, { recursive: true, force: true });
    },
  };
}

export interface DispatchRun {
  child: ChildProcess;
  output(): string;
  /** Exit code, stdout+stderr. */
  done: Promise<{ code: number | null; output: string }>;
}

/** `forge dispatch` as a real process (what an Argo task container runs). */
export function runDispatch(args: string[], env: NodeJS.ProcessEnv = {}): DispatchRun {
  const child = spawn(process.execPath, [FORGE, 'dispatch', ...args], { env: { ...process.env, FORGE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => resolve({ code, output: out })));
  return { child, output: () => out, done };
}

/** The discovery task JSON of one (phase, project), as forge-pipeline passes it. */
export function phaseTask(phase: string, project: string, timeout = '5m'): string {
  return JSON.stringify({ id: `${phase}-${project}`, phase, project, path: `projects/${project}`, group: 1, timeout, steps: 1 });
}

/** Polls `check` until it holds, failing after `timeoutMs` with what was awaited. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
