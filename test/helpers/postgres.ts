import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { ForgeError } from '../../steps/lib/errors.ts';
import { isExecutable, toolPath } from '../../steps/lib/tools.ts';
import { freePort } from './ports.ts';

export interface PostgresServer {
  /** `postgresql://forge@<host>:<port>/postgres` (trust authentication; host 127.0.0.1 unless `host` was given). */
  url: string;
  port: number;
  /** Server log: read it when something is off. */
  logFile: string;
  /** Creates an empty database and returns its URL (a fresh schema for one test); `owner` makes that role its owner. */
  createDatabase(name: string, owner?: string): Promise<string>;
  /** Runs SQL as the superuser `forge` in `database` (default postgres): roles, grants, inspection. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Fast shutdown, bounded (SIGINT, then SIGKILL after 10 s), then removes every temporary file. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** How long to wait for the server to accept connections (default 20 s). */
  readyTimeoutMs?: number;
  /**
   * Address to listen on (default 127.0.0.1, loopback only). Another address — e.g. the cluster's
   * node address 10.88.0.1 — is trusted from itself; add `trustFrom` for other clients.
   */
  host?: string;
  /**
   * Further client networks (CIDR, e.g. the pod network `10.88.0.0/16`) allowed in with trust
   * authentication (`pg_hba.conf`). Test servers only: anyone there connects as any user.
   */
  trustFrom?: string[];
  /**
   * Require a password (scram-sha-256) from every role but `forge` over TCP, the way a real server
   * authenticates a step's role: tests of roles and of bad credentials need it. Default false.
   */
  passwords?: boolean;
}

/**
 * A real PostgreSQL server for tests: Debian's `initdb` and `postgres` (found through
 * toolPath('postgres'); missing → an error naming `npm run tools:install`) in a temporary
 * directory, on a free loopback port, with its socket in that directory too.
 *
 * PostgreSQL refuses to run as root. Run as root, the helper runs `initdb` and the server as the
 * `postgres` system user that the Debian package creates (FORGE_POSTGRES_USER names another),
 * with the temporary directory handed to that user; run as anyone else, as that user.
 */
export async function startPostgres(opts: StartOptions = {}): Promise<PostgresServer> {
  const postgres = toolPath('postgres');
  const initdb = join(dirname(postgres), 'initdb');
  if (!isExecutable(initdb)) {
    throw new ForgeError('TOOL_MISSING', `initdb is not next to ${postgres}: run \`npm run tools:install\` (Debian package postgresql)`);
  }
  const host = opts.host ?? '127.0.0.1';
  for (const cidr of opts.trustFrom ?? []) {
    if (!/^[0-9a-f.:]+\/\d{1,3}$/i.test(cidr)) throw new Error(`trustFrom: ${JSON.stringify(cidr)} is not a CIDR`);
  }
  const user = await serverUser();
  const base = await mkdtemp(join(tmpdir(), 'forge-pg-'));
  const dataDir = join(base, 'data');
  const logFile = join(base, 'postgres.log');
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' };
  try {
    if (user) await chown(base, user.uid, user.gid);
    await execa(initdb, ['-D', dataDir, '-U', 'forge', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], {
      ...as,
      cwd: base,
      env,
      extendEnv: false,
      timeout: 60_000,
    });
  } catch (e) {
    await rm(base, { recursive: true, force: true });
    const how = user ? ` as user ${user.name} (uid ${user.uid})` : '';
    throw new Error(`initdb${how} failed: ${(e as { stderr?: string }).stderr || (e as Error).message}`, { cause: e });
  }
  // initdb's pg_hba.conf trusts loopback only; a server on another address trusts that address
  // (the test process connects from it) and the networks asked for.
  const clients = [...(host === '127.0.0.1' ? [] : [host.includes(':') ? `${host}/128` : `${host}/32`]), ...(opts.trustFrom ?? [])];
  if (clients.length > 0) {
    await appendFile(join(dataDir, 'pg_hba.conf'), clients.map((c) => `host all all ${c} trust\n`).join(''));
  }
  if (opts.passwords) {
    // pg_hba.conf is read top down, first match wins: these go before initdb's trust lines.
    const hba = join(dataDir, 'pg_hba.conf');
    const nets = ['127.0.0.1/32', '::1/128', ...clients];
    const lines = [...nets.map((n) => `host all forge ${n} trust`), ...nets.map((n) => `host all all ${n} scram-sha-256`)];
    await writeFile(hba, `${lines.join('\n')}\n${await readFile(hba, 'utf8')}`);
  }

  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(host);
    const child = spawnServer(postgres, ['-D', dataDir, '-k', base, '-p', String(port), '-h', host, '-c', `listen_addresses=${host}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], {
      ...as,
      cwd: base,
      env,
      logFile,
    });
    const url = `postgresql://forge@${host.includes(':') ? `[${host}]` : host}:${port}/postgres`;
    const ready = await waitReady(child, url, readyTimeoutMs);
    if (ready === 'ready') return server(child, url, port, base, logFile);
    await stopChild(child);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    // Another process took the port between our probe and the server's bind: try another one.
    if (ready === 'exited' && /could not bind|Address already in use/i.test(log) && attempt < 3) continue;
    const tail = log.trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `PostgreSQL did not accept connections on ${host}:${port} ` +
        `(${ready === 'exited' ? `the server exited with ${child.exitCode ?? child.signalCode}` : `not within ${readyTimeoutMs / 1000} s`}); ` +
        `its log is ${logFile} (kept for you to read):\n${tail}`,
    );
  }
}

function server(child: ChildProcess, url: string, port: number, base: string, logFile: string): PostgresServer {
  // A test process that dies without calling stop() must not leave a server behind.
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);
  let stopping: Promise<void> | undefined;
  const query = async <T,>(sql: string, params?: unknown[], database = 'postgres'): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url.replace(/\/postgres$/, `/${database}`) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return {
    url,
    port,
    logFile,
    async createDatabase(name, owner) {
      for (const n of [name, owner ?? '_']) if (!/^[a-z_][a-z0-9_]{0,62}$/.test(n)) throw new Error(`name ${JSON.stringify(n)}: use [a-z_][a-z0-9_]*`);
      await query(`CREATE DATABASE ${name}${owner ? ` OWNER ${owner}` : ''}`);
      return url.replace(/\/postgres$/, `/${name}`);
    },
    query,
    stop() {
      stopping ??= (async () => {
        await stopChild(child);
        process.off('exit', onExit);
        await rm(base, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** The user the server must run as: none when we are not root, else the `postgres` system user. */
async function serverUser(): Promise<{ name: string; uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const name = process.env.FORGE_POSTGRES_USER || 'postgres';
  const { stdout, exitCode } = await execa('getent', ['passwd', name], { reject: false });
  const fields = stdout.trim().split(':');
  if (exitCode !== 0 || fields.length < 4) {
    throw new Error(
      `PostgreSQL cannot run as root and there is no "${name}" user to run it as: ` +
        `install the Debian postgresql package (\`npm run tools:install\`), which creates it, set FORGE_POSTGRES_USER to another non-root user, or run the tests as a non-root user`,
    );
  }
  return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
}

function spawnServer(cmd: string, args: string[], o: { uid?: number; gid?: number; cwd: string; env: NodeJS.ProcessEnv; logFile: string }): ChildProcess {
  const fd = openSync(o.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', fd, fd],
      ...(o.uid !== undefined ? { uid: o.uid, gid: o.gid } : {}),
    });
    child.on('error', () => undefined); // reported by waitReady through exitCode / the log
    return child;
  } finally {
    closeSync(fd);
  }
}

async function waitReady(child: ChildProcess, url: string, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return 'exited';
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return 'ready';
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return 'timeout';
}

/** SIGINT is PostgreSQL's fast shutdown; SIGKILL if it has not exited 10 s later. */
async function stopChild(child: ChildProcess): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
  if (exited()) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  const within = (ms: number) => Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  child.kill('SIGINT');
  if (await within(10_000)) return;
  child.kill('SIGKILL');
  await within(5_000);
}
