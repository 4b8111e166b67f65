import { execa } from 'execa';
import { ForgeError } from './errors.ts';
import { toolPath, type ToolName } from './tools.ts';

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Runs a pinned tool with an argument vector (never a shell). Fails with a ForgeError that names
 * the tool, its arguments and the last lines it printed; `allowFailure` returns the result instead
 * so callers can turn a tool's "no" into their own error.
 */
export async function runTool(tool: ToolName, args: string[], opts: RunOptions & { allowFailure?: boolean } = {}): Promise<RunResult> {
  const timeout = opts.timeoutMs ?? 600_000;
  const result = await execa(toolPath(tool), args, {
    reject: false,
    timeout,
    env: opts.env,
    extendEnv: true,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stripFinalNewline: true,
  });
  if (result.timedOut) throw new ForgeError('TOOL_FAILED', `${tool} ${args[0]} timed out after ${timeout / 1000} s`);
  const out = { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
  if (out.exitCode !== 0 && !opts.allowFailure) {
    throw new ForgeError('TOOL_FAILED', `${tool} ${args.join(' ')} failed (exit ${out.exitCode}): ${lastLines(out.stderr || out.stdout)}`);
  }
  return out;
}

export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/**
 * Registries spoken to over plain HTTP: loopback ones (as Docker assumes too) and the hosts listed
 * in FORGE_INSECURE_REGISTRIES (comma-separated `host[:port]`, platform config
 * `registries.insecure`, for test clusters). Everything else needs TLS.
 */
export function isPlainHttpRegistry(reference: string): boolean {
  const host = reference.split('/')[0] ?? '';
  if (/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host)) return true;
  const listed = (process.env.FORGE_INSECURE_REGISTRIES ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  return listed.includes(host);
}
