import type { ChildProcess } from 'node:child_process';

/**
 * Stops a child process within bounded time: `signal` (SIGTERM by default), then SIGKILL when it
 * has not exited after `graceMs`. Resolves once it exited; at once when it already had.
 */
export async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
