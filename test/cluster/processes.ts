/** Processes of the cluster: start with a readiness deadline, pid files, stop; HTTP health checks. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { ClusterError, log, LOGS, PKI, RUN, sleep } from './layout.ts';

export interface Component {
  name: string;
  /** Starts the process (returns argv); not called when it already runs. */
  argv: () => string[];
  /** Resolves when the component is ready; throws (or keeps failing) until then. */
  ready: () => Promise<void>;
  timeoutMs: number;
  env?: Record<string, string>;
}

const pidFile = (name: string) => path.join(RUN, `${name}.pid`);

/**
 * The pid of a component we started, if it still runs. The pid file holds the pid and the
 * executable; a pid that now belongs to another program (reused after a restart) is not ours.
 */
export function readPid(name: string): number | undefined {
  try {
    const [pidText, exe] = fs.readFileSync(pidFile(name), 'utf8').trim().split('\n');
    const pid = Number(pidText);
    if (!(pid > 0) || !isAlive(pid)) return undefined;
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return !exe || argv0 === exe ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True while the local cluster's API server runs. */
export function isRunning(): boolean {
  return readPid('kube-apiserver') !== undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat); // a zombie is not running
  } catch {
    return false;
  }
}

export function logTail(name: string, n = 30): string {
  try {
    return fs.readFileSync(path.join(LOGS, `${name}.log`), 'utf8').trimEnd().split('\n').slice(-n).map((l) => `    | ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

export async function start(c: Component): Promise<void> {
  const started = Date.now();
  let pid = readPid(c.name);
  if (pid) {
    log(`${c.name}: already running (pid ${pid})`);
  } else {
    const argv = c.argv();
    const logFile = path.join(LOGS, `${c.name}.log`);
    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n==== ${new Date().toISOString()} ${argv.join(' ')}\n`);
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...c.env } });
    fs.closeSync(fd);
    pid = child.pid;
    if (!pid) throw new ClusterError(c.name, `could not start ${argv[0]}`);
    child.unref();
    fs.writeFileSync(pidFile(c.name), `${pid}\n${argv[0]}\n`);
    log(`${c.name}: started (pid ${pid}, log ${logFile})`);
  }
  let lastError = '';
  while (Date.now() - started < c.timeoutMs) {
    if (!isAlive(pid)) {
      throw new ClusterError(c.name, `exited during start-up. Last lines of ${path.join(LOGS, `${c.name}.log`)}:\n${logTail(c.name)}`);
    }
    try {
      await c.ready();
      log(`${c.name}: ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(500);
  }
  throw new ClusterError(
    c.name,
    `did not become ready within ${c.timeoutMs / 1000}s (last check: ${lastError}). Last lines of ${path.join(LOGS, `${c.name}.log`)}:\n${logTail(c.name)}`,
  );
}

export async function stopPid(name: string, pid: number, graceMs = 10_000): Promise<void> {
  try {
    process.kill(-pid, 'SIGTERM'); // its process group (it was started detached, as group leader)
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until && isAlive(pid)) await sleep(100);
  if (isAlive(pid)) {
    log(`${name}: still running after ${graceMs / 1000}s, SIGKILL`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (isAlive(pid)) await sleep(100);
  }
}

export async function stop(name: string): Promise<void> {
  const pid = readPid(name);
  if (pid) {
    await stopPid(name, pid);
    log(`${name}: stopped (pid ${pid})`);
  }
  fs.rmSync(pidFile(name), { force: true });
}

// ---------------------------------------------------------------- health checks

export interface TlsOpts {
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

export function get(url: string, tls: TlsOpts = {}, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const opts: https.RequestOptions = { timeout: timeoutMs };
    if (url.startsWith('https:')) {
      if (tls.ca) opts.ca = fs.readFileSync(path.join(PKI, tls.ca));
      if (tls.cert) opts.cert = fs.readFileSync(path.join(PKI, tls.cert));
      if (tls.key) opts.key = fs.readFileSync(path.join(PKI, tls.key));
      opts.rejectUnauthorized = !tls.insecure;
    }
    const req = mod.get(url, opts, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', reject);
  });
}

export async function expectOk(url: string, tls: TlsOpts = {}): Promise<void> {
  const r = await get(url, tls);
  if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.body.slice(0, 300)}`);
}

export const adminTls: TlsOpts = { ca: 'ca.crt', cert: 'admin.crt', key: 'admin.key' };
