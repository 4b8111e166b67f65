import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from './ports.ts';
import { stopProcess } from '../../steps/lib/stop-process.ts';

/**
 * A real Kubernetes API server (envtest-style: etcd and kube-apiserver only, no nodes) on loopback
 * ports, from the binaries the cluster builder caches (images/cluster/build.mjs; etcd from Debian,
 * images/toolchain). Two bearer tokens: `admin` (system:masters) and `reader`, who has no RBAC
 * grants, so every read it makes is forbidden. Everything lives in a temporary directory that
 * `stop()` removes; `stop()` ends both processes within a few seconds.
 */
export interface KubeApiServer {
  url: string;
  /** A client configuration for one of the two users. */
  kubeConfig(user: 'admin' | 'reader'): KubeConfig;
  stop(): Promise<void>;
}

const versions = JSON.parse(readFileSync(new URL('../../images/cluster/versions.json', import.meta.url), 'utf8')) as {
  kubernetes: { version: string };
  apt: Record<string, { binary: string }>;
};
const toolsHome = process.env.FORGE_TOOLS_HOME || join(homedir(), '.cache', 'forge-workflows');
const apiServerBinary = join(toolsHome, 'cluster', `kubernetes-${versions.kubernetes.version}`, 'bin', 'kube-apiserver');
const etcdBinary = versions.apt.etcd!.binary;

/** Whether the binaries are there (`npm run cluster:up` builds kube-apiserver; the toolchain installs etcd). */
export const kubeApiServerAvailable = existsSync(apiServerBinary) && existsSync(etcdBinary);
export const kubeApiServerMissing = `needs ${apiServerBinary} (build it with \`node images/cluster/build.mjs --only kubernetes\`; npm run test:cluster does) and ${etcdBinary} (\`npm run tools:install\`)`;

const TOKENS = { admin: 'forge-test-admin', reader: 'forge-test-reader' };

function get(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function waitFor(what: string, ready: () => Promise<boolean>, processes: ChildProcess[], deadline: number, log: string): Promise<void> {
  while (Date.now() < deadline) {
    if (processes.some((p) => p.exitCode !== null)) throw new Error(`${what} exited before it was ready (logs in ${log})`);
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} was not ready in time (logs in ${log})`);
}

export async function startKubeApiServer(timeoutMs = 60_000): Promise<KubeApiServer> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-kube-apiserver-'));
  const processes: ChildProcess[] = [];
  const stop = async () => {
    // The API server first, then its storage; SIGKILL whatever has not ended after 5 s.
    for (const p of processes.reverse()) await stopProcess(p);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'tokens.csv'), `${TOKENS.admin},admin,1,system:masters\n${TOKENS.reader},reader,2\n`);
    const [client, peer, secure] = [await freePort(), await freePort(), await freePort()];
    const start = (binary: string, args: string[]) => {
      const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      const log = createWriteStream(join(dir, `${binary.split('/').pop()}.log`));
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
      processes.push(child);
    };
    const deadline = Date.now() + timeoutMs;
    start(etcdBinary, [
      '--name', 'test', '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `test=http://127.0.0.1:${peer}`,
    ]);
    await waitFor('etcd', async () => (await fetch(`http://127.0.0.1:${client}/health`)).ok, processes, deadline, dir);
    start(apiServerBinary, [
      '--bind-address', '127.0.0.1', '--secure-port', String(secure), '--cert-dir', join(dir, 'certs'),
      '--etcd-servers', `http://127.0.0.1:${client}`,
      '--service-cluster-ip-range', '10.250.0.0/24',
      '--service-account-issuer', 'https://kube-apiserver.test', '--service-account-key-file', 'sa.pub', '--service-account-signing-key-file', 'sa.key',
      '--authorization-mode', 'RBAC', '--token-auth-file', 'tokens.csv',
      // Debian's etcd 3.4 cannot serve watch-list streams (test/cluster/components.ts).
      '--feature-gates', 'WatchList=false',
    ]);
    const url = `https://127.0.0.1:${secure}`;
    await waitFor('kube-apiserver', async () => (await get(`${url}/readyz`, TOKENS.admin)) === 'ok', processes, deadline, dir);
    return {
      url,
      kubeConfig(user) {
        const kc = new KubeConfig();
        kc.loadFromOptions({
          clusters: [{ name: 'test', server: url, skipTLSVerify: true }],
          users: [{ name: user, token: TOKENS[user] }],
          contexts: [{ name: user, cluster: 'test', user }],
          currentContext: user,
        });
        return kc;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
