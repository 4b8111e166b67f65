import { execa } from 'execa';
import { ForgeError } from './errors.ts';
import { toolPath } from './tools.ts';

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
  timeoutMs?: number;
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
 * `cue export --out json` through execa (argument vector, no shell). Returns the parsed JSON;
 * when cue rejects the input, throws a CueFailure carrying every diagnostic cue printed.
 */
export async function cueExport(opts: CueExportOptions): Promise<unknown> {
  const args = ['export', ...(opts.instances ?? ['.']), '--out', 'json'];
  if (opts.expression) args.push('-e', opts.expression);
  const result = await execa(toolPath('cue'), args, {
    cwd: opts.cwd,
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
  });
  if (result.timedOut) {
    throw new ForgeError('TOOL_FAILED', `cue export timed out after ${(opts.timeoutMs ?? 120_000) / 1000} s in ${opts.cwd}`);
  }
  if (result.exitCode !== 0) {
    throw new CueFailure(parseCueDiagnostics(result.stderr), result.stderr);
  }
  try {
    return JSON.parse(result.stdout);
  } catch (cause) {
    throw new ForgeError('TOOL_FAILED', `cue export printed output that is not JSON (${result.stdout.slice(0, 80)}…)`, [], { cause });
  }
}

const POSITION = /^\s+(\S.*?):(\d+):(\d+)$/;

/**
 * Parses cue's error text: each diagnostic is a message line (`path: message:`) followed by
 * indented `file:line:col` lines. Messages without a field path (syntax errors) keep path ''.
 */
export function parseCueDiagnostics(stderr: string): CueDiagnostic[] {
  const out: CueDiagnostic[] = [];
  for (const raw of stderr.split('\n')) {
    if (!raw.trim()) continue;
    const pos = POSITION.exec(raw);
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
