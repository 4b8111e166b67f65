import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolPath } from '../lib/tools.ts';
import { freePort } from './ports.ts';
import { stopProcess } from '../lib/stop-process.ts';

export interface Registry {
  /** `<host>:<port>` (default host 127.0.0.1), usable as an image reference prefix. */
  host: string;
  url: string;
  /** The registry process (benchmarks read its CPU time from /proc). */
  pid: number;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** How long to wait for the registry to answer (default 15 s). */
  timeoutMs?: number;
  /**
   * Address to listen on (default 127.0.0.1). Another address — e.g. the cluster's node address
   * 10.88.0.1, which pods reach — is plain HTTP too: list `host` in FORGE_INSECURE_REGISTRIES
   * (and the platform's `registries.insecure`) for the tools to speak HTTP to it.
   */
  host?: string;
}

/**
 * A real CNCF distribution registry (Debian's docker-registry 2.8) on a loopback port (or on
 * `opts.host`), storing in a temporary directory. Stops (and removes its storage) on `stop()`; a
 * registry that does not answer within `timeoutMs` is killed and reported with its log.
 */
export async function startRegistry(opts: number | RegistryOptions = {}): Promise<Registry> {
  const { timeoutMs = 15_000, host: bind = '127.0.0.1' } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const binary = toolPath('docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'forge-registry-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort(bind);
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log: {level: warn}',
        `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
        `http: {addr: "${bind}:${port}"}`,
        '',
      ].join('\n'),
    );
    const logFile = join(dir, `registry-${attempt}.log`);
    const log = createWriteStream(logFile);
    const child: ChildProcess = spawn(binary, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const url = `http://${bind}:${port}`;
    const stop = async () => {
      await stopProcess(child);
      log.end();
    };
    const deadline = Date.now() + timeoutMs;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null) {
      up = await fetch(`${url}/v2/`).then((r) => r.ok, () => false);
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up) {
      return {
        host: `${bind}:${port}`,
        url,
        pid: child.pid!,
        async stop() {
          await stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await stop();
    if (attempt >= 2) {
      throw new Error(`docker-registry did not answer on ${url} within ${timeoutMs} ms (log: ${logFile})`);
    }
  }
}
