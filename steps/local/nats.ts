import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcess } from '../lib/stop-process.ts';
import { toolPath } from '../lib/tools.ts';
import { freePort } from './ports.ts';

export interface NatsServer {
  url: string;
  port: number;
  /** HTTP monitoring endpoint (`/jsz`, what KEDA's scaler reads). */
  monitorUrl: string;
  pid(): number;
  /** The server's log (permission violations are logged here). */
  logFile: string;
  /** Stops the server and starts it again on the same port and JetStream store (a restart). */
  restart(): Promise<void>;
  /** Stops the server for good and removes its store. */
  stop(): Promise<void>;
  /** Stops the server, keeping its store, until `start()`. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

/**
 * A real nats-server (Debian's package) with JetStream on a loopback port it picks, storing in
 * a temporary directory: the broker of the tests, the demo and `forge run`. A server that does
 * not accept connections within `timeoutMs` is killed and reported with its log.
 */
export async function startNats(opts: { timeoutMs?: number; /** More nats.conf (an `authorization` block, say). */ conf?: string; env?: Record<string, string> } = {}): Promise<NatsServer> {
  const binary = toolPath('nats-server');
  const dir = await mkdtemp(join(tmpdir(), 'forge-nats-'));
  const port = await freePort();
  const monitor = await freePort();
  const logFile = join(dir, 'nats.log');
  const confFile = join(dir, 'nats.conf');
  await writeFile(confFile, opts.conf ?? '');
  let child: ChildProcess | undefined;

  const start = async () => {
    const log = createWriteStream(logFile, { flags: 'a' });
    child = spawn(binary, ['--config', confFile, '--jetstream', '--store_dir', join(dir, 'store'), '--addr', '127.0.0.1', '--port', String(port), '--http_port', String(monitor), '--server_name', 'forge-test'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (Date.now() < deadline && child.exitCode === null) {
      // JetStream answers once /healthz says so; a TCP accept alone is too early.
      const healthy = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`).then((r) => r.ok, () => false);
      if (healthy && (await canConnect(port))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await kill('SIGKILL');
    throw new Error(`nats-server did not start on 127.0.0.1:${port} within ${opts.timeoutMs ?? 15_000} ms (log: ${logFile})`);
  };
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => stopProcess(child, signal);
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitor}`,
    pid: () => child?.pid ?? 0,
    logFile,
    start,
    kill,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
