import { execa } from 'execa';
import { ForgeError } from './errors.ts';
import { findExecutable, isExecutable, toolPath } from './tools.ts';

/** One problem reported by `cue`: its field path, its message and the source positions it names. */
export interface CueDiagnostic {
  /** Dotted field path as cue prints it (`projects."0".ci.phases`), empty for syntax errors. */
  path: string;
  message: string;
  positions: { file: string; line: number; column: number }[];
}

export interface CueExportOptions {
  /** Directory cue runs in (a CUE module root for imports to resolve). */
  cwd: string;
  /** Packages or files to evaluate, as given on the command line. Default `.`. */
  instances?: string[];
  /** Only export this expression (`-e`). */
  expression?: string;
  /** Wall-clock limit; cue is killed after it. Default CUE_LIMITS.timeoutMs. */
  timeoutMs?: number;
  /** Hard memory limit of the cue process (bytes). Default CUE_LIMITS.memoryBytes. */
  memoryBytes?: number;
  /** Most bytes of JSON read from cue's stdout; cue is killed past it. Default CUE_LIMITS.outputBytes. */
  outputBytes?: number;
}

/**
 * Bounds of one `cue` run. CUE input is repository content, and a few lines of it can ask for
 * gigabytes (a list doubled twenty times) or minutes: cue runs under a kernel data-segment limit
 * (`prlimit --data`, which Go's heap counts against; GOMEMLIMIT makes its collector work before
 * the wall), a wall-clock and CPU-time limit, and its output is read with a cap, never buffered
 * whole. The defaults fit the discovery step's 512 MiB container limit beside Node itself.
 */
export const CUE_LIMITS = {
  memoryBytes: 256 * 1024 * 1024,
  timeoutMs: 60_000,
  outputBytes: 16 * 1024 * 1024,
  stderrBytes: 1024 * 1024,
} as const;

/** cue stopped by one of its limits: memory, time or output size. The caller names the files. */
export class CueLimitExceeded extends Error {
  constructor(
    readonly limit: 'memory' | 'time' | 'output',
    readonly bound: number,
  ) {
    super(`cue exceeded its ${describeLimit(limit, bound)}`);
  }
}

export function describeLimit(limit: 'memory' | 'time' | 'output', bound: number): string {
  if (limit === 'memory') return `${Math.round(bound / 1024 / 1024)} MiB memory limit`;
  if (limit === 'time') return `${bound / 1000} s time limit`;
  return `${Math.round(bound / 1024 / 1024)} MiB output limit`;
}

export class CueFailure extends Error {
  constructor(
    readonly diagnostics: CueDiagnostic[],
    readonly stderr: string,
  ) {
    super(diagnostics[0]?.message ?? stderr.trim());
  }
}

/**
 * `cue export --out json` through execa (argument vector, no shell), within CUE_LIMITS (or the
 * given ones). Returns the parsed JSON; when cue rejects the input, throws a CueFailure carrying
 * every diagnostic cue printed; when a limit stops it, a CueLimitExceeded. cue gets a clean
 * environment: no registry (`CUE_REGISTRY=none`: nothing is fetched), its cache and
 * configuration inside `cwd`, and none of the caller's CUE_* settings.
 */
export async function cueExport(opts: CueExportOptions): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? CUE_LIMITS.timeoutMs;
  const memoryBytes = opts.memoryBytes ?? CUE_LIMITS.memoryBytes;
  const outputBytes = opts.outputBytes ?? CUE_LIMITS.outputBytes;
  const args = ['export', ...(opts.instances ?? ['.']), '--out', 'json'];
  if (opts.expression) args.push('-e', opts.expression);
  const result = await execa(prlimitPath(), [`--data=${memoryBytes}`, `--cpu=${Math.ceil(timeoutMs / 1000) + 1}`, toolPath('cue'), ...args], {
    cwd: opts.cwd,
    reject: false,
    stdin: 'ignore',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: { stdout: outputBytes, stderr: CUE_LIMITS.stderrBytes },
    extendEnv: false,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: opts.cwd,
      CUE_REGISTRY: 'none',
      CUE_CACHE_DIR: `${opts.cwd}/.cue-cache`,
      CUE_CONFIG_DIR: `${opts.cwd}/.cue-config`,
      // The collector works harder as the heap nears the hard limit; the traceback stays short.
      GOMEMLIMIT: String(Math.floor(memoryBytes * 0.75)),
      GOTRACEBACK: 'none',
    },
  });
  if (result.timedOut || result.signal === 'SIGXCPU' || /^SIGXCPU/m.test(result.stderr)) throw new CueLimitExceeded('time', timeoutMs);
  if (result.isMaxBuffer) {
    if (result.stderr.length < CUE_LIMITS.stderrBytes) throw new CueLimitExceeded('output', outputBytes);
    throw new CueFailure(parseCueDiagnostics(result.stderr), result.stderr); // what fits of a very long error list
  }
  // The Go runtime dies in several ways when the data limit refuses it memory: "fatal error:
  // runtime: cannot allocate memory", a SIGSEGV where a mapping was refused, "runtime/cgo:
  // pthread_create failed" (thread stacks count too) and SIGABRT. SIGKILL: the OOM killer.
  if (RUNTIME_DEATH.test(result.stderr) || (result.signal !== undefined && result.signal !== 'SIGTERM')) {
    throw new CueLimitExceeded('memory', memoryBytes);
  }
  if (result.exitCode !== 0 || result.signal) {
    throw new CueFailure(parseCueDiagnostics(result.stderr), result.stderr);
  }
  try {
    return JSON.parse(result.stdout);
  } catch (cause) {
    throw new ForgeError('TOOL_FAILED', `cue export printed output that is not JSON (${result.stdout.slice(0, 80)}…)`, [], { cause });
  }
}

const RUNTIME_DEATH = /^(fatal error: |runtime: |runtime\/cgo: |SIG[A-Z]+: |unexpected fault address|\[signal SIG)/m;

/** `prlimit` (util-linux, in every Debian image) applies the memory and CPU limits to cue. */
function prlimitPath(): string {
  const found = findExecutable('prlimit') ?? ['/usr/bin/prlimit', '/bin/prlimit'].find(isExecutable);
  if (!found) {
    throw new ForgeError('TOOL_MISSING', 'prlimit is not installed: it bounds the memory of cue (Debian package util-linux)');
  }
  return found;
}

const POSITION = /^\s+(\S[^:]*?):(\d+):(\d+)$/;
/** Lines longer than this are kept as messages (truncated) and never parsed as positions. */
const MAX_LINE = 4096;

/**
 * Parses cue's error text: each diagnostic is a message line (`path: message:`) followed by
 * indented `file:line:col` lines. Messages without a field path (syntax errors) keep path ''.
 */
export function parseCueDiagnostics(stderr: string): CueDiagnostic[] {
  const out: CueDiagnostic[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.trim()) continue;
    const raw = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
    const pos = raw.length < MAX_LINE ? POSITION.exec(raw) : null;
    if (pos && out.length > 0) {
      out[out.length - 1]!.positions.push({ file: pos[1]!, line: Number(pos[2]), column: Number(pos[3]) });
      continue;
    }
    const text = raw.trim().replace(/:$/, '');
    out.push({ ...splitPath(text), positions: [] });
  }
  return out;
}

/** `projects."a.b".x: field not allowed` → path `projects."a.b".x`, message `field not allowed`. */
function splitPath(text: string): { path: string; message: string } {
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuote = !inQuote;
    else if (c === ' ' && !inQuote) break;
    else if (c === ':' && !inQuote && text[i + 1] === ' ') {
      const path = text.slice(0, i);
      if (/^[A-Za-z_#"$]/.test(path)) return { path, message: text.slice(i + 2) };
      break;
    }
  }
  return { path: '', message: text };
}
