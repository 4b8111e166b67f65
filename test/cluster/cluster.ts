/**
 * A real single-node Kubernetes cluster running Argo Workflows on this machine, for end-to-end
 * tests (docs/testing-on-a-real-cluster.md).
 *
 *   node --import tsx test/cluster/cluster.ts up       build (cached) and start everything; idempotent
 *   node --import tsx test/cluster/cluster.ts status   what runs, health, memory (--json for JSON)
 *   node --import tsx test/cluster/cluster.ts down     stop everything, leave no process behind
 *                                             (--purge also forgets etcd, kubelet and CNI state)
 *
 * Components (images/cluster/versions.json): etcd, containerd, runc and the CNI plugins from
 * Debian; kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy built with
 * Go from the Kubernetes module; Argo's workflow-controller (emissary executor, argoexec) built
 * from the Argo module and installed with Argo's own CRDs and RBAC. Images (pause, argoexec,
 * workflow-controller, steps) are built locally and imported into containerd: no registry.
 *
 * Network: etcd, controller-manager, scheduler and every health endpoint listen on 127.0.0.1.
 * Pods get their own network namespace on the bridge `forge0` (10.88.0.0/16, CNI bridge +
 * host-local); the API server and the kubelet listen on the bridge's gateway address 10.88.0.1 so
 * that pods reach them (through the `kubernetes` Service, kube-proxy in iptables mode). Nothing
 * listens on the machine's external interface.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

// ---------------------------------------------------------------- layout

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
const TOOLS_HOME = path.resolve(process.env.FORGE_TOOLS_HOME || path.join(os.homedir(), '.cache', 'forge-workflows'));
/** Persistent state: certificates, etcd, containerd's image store, kubelet, logs. */
export const STATE = path.resolve(process.env.FORGE_CLUSTER_DIR || path.join(TOOLS_HOME, 'cluster', 'state'));
/** Runtime state: sockets, pid files, containerd and runc state (removed by down). */
const RUN = path.resolve(process.env.FORGE_CLUSTER_RUN_DIR || '/run/forge-cluster');
export const LOGS = path.join(STATE, 'logs');
const PKI = path.join(STATE, 'pki');
export const KUBECONFIG = path.join(STATE, 'admin.kubeconfig');
const CONTAINERD_SOCK = path.join(RUN, 'containerd.sock');

export const NODE_NAME = 'forge-node';
/** Gateway of the pod bridge: the node address, where the API server and kubelet listen. */
export const NODE_IP = '10.88.0.1';
const BRIDGE = 'forge0';
const POD_CIDR = '10.88.0.0/16';
const SERVICE_CIDR = '10.96.0.0/16';
const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const API_SERVER = `https://${NODE_IP}:6443`;
export const ARGO_NAMESPACE = 'argo';

interface Versions {
  kubernetes: { version: string };
  argo: { version: string };
  apt: Record<string, { package: string; binary: string }>;
}
const VERSIONS = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'images/cluster/versions.json'), 'utf8')) as Versions;

interface BuiltPaths {
  kubernetes: Record<string, string>;
  argo: Record<string, string>;
  images: Record<string, { ref: string; archive: string }>;
}

export class ClusterError extends Error {
  constructor(
    readonly component: string,
    message: string,
  ) {
    super(`${component}: ${message}`);
  }
}

const t0 = Date.now();
function log(msg: string): void {
  console.log(`[cluster +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[], opts: SpawnSyncOptions & { component?: string; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000, ...opts });
  const out = `${r.stdout ?? ''}`;
  if (!opts.allowFail && (r.status !== 0 || r.error)) {
    throw new ClusterError(
      opts.component ?? path.basename(cmd),
      `\`${[cmd, ...args].join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`}): ${`${r.stderr ?? ''}${out}`.trim().slice(-2000)}`,
    );
  }
  return out;
}

function builtPaths(): BuiltPaths {
  const out = sh(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--paths'], { component: 'build' });
  return JSON.parse(out) as BuiltPaths;
}

// ---------------------------------------------------------------- certificates

function openssl(args: string[], input?: string): string {
  return sh('openssl', args, { component: 'pki', input });
}

function ensureCa(): void {
  if (fs.existsSync(path.join(PKI, 'ca.crt'))) return;
  fs.mkdirSync(PKI, { recursive: true, mode: 0o700 });
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(PKI, 'ca.key')]);
  openssl([
    'req', '-x509', '-new', '-key', path.join(PKI, 'ca.key'), '-subj', '/CN=forge-cluster-ca', '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out', path.join(PKI, 'ca.crt'),
  ]);
}

/** Key + certificate signed by the cluster CA. `cn`/`o` name the Kubernetes user and groups. */
function ensureCert(name: string, opts: { cn: string; o?: string[]; dns?: string[]; ips?: string[]; server?: boolean; client?: boolean }): void {
  const crt = path.join(PKI, `${name}.crt`);
  if (fs.existsSync(crt)) return;
  const key = path.join(PKI, `${name}.key`);
  const csr = path.join(PKI, `${name}.csr`);
  const ext = path.join(PKI, `${name}.ext`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  const subj = `/CN=${opts.cn}${(opts.o ?? []).map((o) => `/O=${o}`).join('')}`;
  openssl(['req', '-new', '-key', key, '-subj', subj, '-out', csr]);
  const eku = [opts.server ? 'serverAuth' : '', opts.client ? 'clientAuth' : ''].filter(Boolean).join(',');
  const san = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.ips ?? []).map((i) => `IP:${i}`)].join(',');
  fs.writeFileSync(
    ext,
    ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${eku}`, ...(san ? [`subjectAltName=${san}`] : [])].join('\n'),
  );
  openssl([
    'x509', '-req', '-in', csr, '-CA', path.join(PKI, 'ca.crt'), '-CAkey', path.join(PKI, 'ca.key'), '-CAcreateserial',
    '-days', '3650', '-extfile', ext, '-out', crt,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
}

function kubeconfig(file: string, user: string, server = API_SERVER): void {
  if (fs.existsSync(file)) return;
  const b64 = (f: string) => fs.readFileSync(path.join(PKI, f)).toString('base64');
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'forge', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(`${user}.crt`), 'client-key-data': b64(`${user}.key`) } }],
    contexts: [{ name: 'forge', context: { cluster: 'forge', user } }],
    'current-context': 'forge',
  };
  fs.writeFileSync(file, stringify(cfg), { mode: 0o600 });
}

function ensurePki(): void {
  ensureCa();
  ensureCert('etcd', { cn: 'etcd', ips: ['127.0.0.1'], dns: ['localhost'], server: true, client: true });
  ensureCert('apiserver-etcd-client', { cn: 'kube-apiserver-etcd-client', client: true });
  ensureCert('apiserver', {
    cn: 'kube-apiserver',
    dns: ['localhost', NODE_NAME, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ips: ['127.0.0.1', NODE_IP, KUBERNETES_SERVICE_IP],
    server: true,
  });
  ensureCert('apiserver-kubelet-client', { cn: 'kube-apiserver-kubelet-client', o: ['system:masters'], client: true });
  ensureCert('admin', { cn: 'forge-admin', o: ['system:masters'], client: true });
  ensureCert('controller-manager', { cn: 'system:kube-controller-manager', client: true });
  ensureCert('scheduler', { cn: 'system:kube-scheduler', client: true });
  ensureCert('kube-proxy', { cn: 'system:kube-proxy', client: true });
  ensureCert('kubelet', { cn: `system:node:${NODE_NAME}`, o: ['system:nodes'], client: true });
  ensureCert('kubelet-server', { cn: NODE_NAME, dns: [NODE_NAME, 'localhost'], ips: [NODE_IP, '127.0.0.1'], server: true });
  if (!fs.existsSync(path.join(PKI, 'sa.key'))) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(PKI, 'sa.key')]);
    openssl(['ec', '-in', path.join(PKI, 'sa.key'), '-pubout', '-out', path.join(PKI, 'sa.pub')]);
  }
  kubeconfig(KUBECONFIG, 'admin');
  kubeconfig(path.join(STATE, 'controller-manager.kubeconfig'), 'controller-manager');
  kubeconfig(path.join(STATE, 'scheduler.kubeconfig'), 'scheduler');
  kubeconfig(path.join(STATE, 'kubelet.kubeconfig'), 'kubelet');
  kubeconfig(path.join(STATE, 'kube-proxy.kubeconfig'), 'kube-proxy');
}

// ---------------------------------------------------------------- processes

interface Component {
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
function readPid(name: string): number | undefined {
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat); // a zombie is not running
  } catch {
    return false;
  }
}

function logTail(name: string, n = 30): string {
  try {
    return fs.readFileSync(path.join(LOGS, `${name}.log`), 'utf8').trimEnd().split('\n').slice(-n).map((l) => `    | ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

async function start(c: Component): Promise<void> {
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

async function stopPid(name: string, pid: number, graceMs = 10_000): Promise<void> {
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

async function stop(name: string): Promise<void> {
  const pid = readPid(name);
  if (pid) {
    await stopPid(name, pid);
    log(`${name}: stopped (pid ${pid})`);
  }
  fs.rmSync(pidFile(name), { force: true });
}

// ---------------------------------------------------------------- health checks

interface TlsOpts {
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

function get(url: string, tls: TlsOpts = {}, timeoutMs = 3000): Promise<{ status: number; body: string }> {
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

async function expectOk(url: string, tls: TlsOpts = {}): Promise<void> {
  const r = await get(url, tls);
  if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.body.slice(0, 300)}`);
}

const adminTls: TlsOpts = { ca: 'ca.crt', cert: 'admin.crt', key: 'admin.key' };

// ---------------------------------------------------------------- kubectl

let PATHS: BuiltPaths | undefined;
function paths(): BuiltPaths {
  PATHS ??= builtPaths();
  return PATHS;
}

export function kubectl(args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  return sh(paths().kubernetes.kubectl!, ['--kubeconfig', KUBECONFIG, ...args], { component: 'kubectl', ...opts });
}

function ctr(args: string[], allowFail = false): string {
  return sh(VERSIONS.apt.ctr!.binary, ['--address', CONTAINERD_SOCK, '--namespace', 'k8s.io', ...args], {
    component: 'containerd',
    allowFail,
    timeout: 600_000,
  });
}

// ---------------------------------------------------------------- configuration files

function writeContainerdConfig(pause: string): string {
  const file = path.join(STATE, 'containerd', 'config.toml');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.mkdirSync(path.join(STATE, 'cni', 'net.d'), { recursive: true });
  const toml = `version = 2
root = "${path.join(STATE, 'containerd', 'root')}"
state = "${path.join(RUN, 'containerd')}"
oom_score = 0

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${path.join(RUN, 'containerd-ttrpc.sock')}"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${path.join(STATE, 'containerd', 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause}"
  enable_selinux = false
  # The machines' root lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj (the kubelet asks
  # -998 for sandboxes). Clamp it to containerd's own value instead.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${process.env.FORGE_CLUSTER_RUNC || VERSIONS.apt.runc!.binary}"
        Root = "${path.join(RUN, 'runc')}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${path.join(STATE, 'cni', 'net.d')}"
    max_conf_num = 1
`;
  fs.writeFileSync(file, toml);
  const cni = {
    cniVersion: '1.0.0',
    name: 'forge',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: POD_CIDR, rangeStart: '10.88.1.1', rangeEnd: '10.88.255.254', gateway: NODE_IP }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: path.join(STATE, 'cni', 'ipam'),
        },
      },
    ],
  };
  fs.writeFileSync(path.join(STATE, 'cni', 'net.d', '10-forge.conflist'), `${JSON.stringify(cni, null, 2)}\n`);
  return file;
}

function writeKubeletConfig(): string {
  const file = path.join(STATE, 'kubelet-config.yaml');
  const cfg = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: path.join(PKI, 'ca.crt') },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: path.join(PKI, 'kubelet-server.crt'),
    tlsPrivateKeyFile: path.join(PKI, 'kubelet-server.key'),
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCK}`,
    // The development machines mount cgroup v1 (hybrid) and run no systemd.
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    clusterDomain: 'cluster.local',
    // No DNS for pods: the machine's resolver is off-limits to them (and they need none).
    resolvConf: '',
    podLogsDir: path.join(STATE, 'pod-logs'),
    maxPods: 60,
    serializeImagePulls: false,
    // A shared development disk: evict on real exhaustion only, never collect the local images
    // (they cannot be pulled again).
    evictionHard: { 'memory.available': '200Mi', 'nodefs.available': '2%', 'imagefs.available': '2%', 'nodefs.inodesFree': '2%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    containerLogMaxSize: '10Mi',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    registerNode: true,
    staticPodPath: '',
    shutdownGracePeriod: '0s',
  };
  fs.writeFileSync(file, stringify(cfg));
  return file;
}

function writeKubeProxyConfig(): string {
  const file = path.join(STATE, 'kube-proxy-config.yaml');
  const cfg = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: path.join(STATE, 'kube-proxy.kubeconfig') },
    hostnameOverride: NODE_NAME,
    clusterCIDR: POD_CIDR,
    bindAddress: '127.0.0.1',
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // Leave the machine's conntrack sysctls as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // No route_localnet: NodePorts are not served on 127.0.0.1.
    iptables: { localhostNodePorts: false },
    nodePortAddresses: [`${NODE_IP}/32`],
  };
  fs.writeFileSync(file, stringify(cfg));
  return file;
}

// ---------------------------------------------------------------- components

let kubeletStartedAt = 0;

function components(): Component[] {
  const p = paths();
  const k = p.kubernetes;
  const pki = (f: string) => path.join(PKI, f);
  return [
    {
      name: 'etcd',
      timeoutMs: 30_000,
      argv: () => [
        VERSIONS.apt.etcd!.binary,
        '--name', 'forge',
        '--data-dir', path.join(STATE, 'etcd'),
        '--listen-client-urls', 'https://127.0.0.1:2379',
        '--advertise-client-urls', 'https://127.0.0.1:2379',
        '--listen-peer-urls', 'http://127.0.0.1:2380',
        '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
        '--initial-cluster', 'forge=http://127.0.0.1:2380',
        '--listen-metrics-urls', 'http://127.0.0.1:2381',
        '--cert-file', pki('etcd.crt'), '--key-file', pki('etcd.key'),
        '--trusted-ca-file', pki('ca.crt'), '--client-cert-auth',
        '--quota-backend-bytes', String(2 << 30),
        '--snapshot-count', '10000',
      ],
      env: { ETCD_UNSUPPORTED_ARCH: '' },
      ready: () => expectOk('http://127.0.0.1:2381/health'),
    },
    {
      name: 'kube-apiserver',
      timeoutMs: 90_000,
      argv: () => [
        k['kube-apiserver']!,
        '--bind-address', NODE_IP,
        '--advertise-address', NODE_IP,
        '--secure-port', '6443',
        '--etcd-servers', 'https://127.0.0.1:2379',
        '--etcd-cafile', pki('ca.crt'), '--etcd-certfile', pki('apiserver-etcd-client.crt'), '--etcd-keyfile', pki('apiserver-etcd-client.key'),
        '--service-cluster-ip-range', SERVICE_CIDR,
        '--tls-cert-file', pki('apiserver.crt'), '--tls-private-key-file', pki('apiserver.key'),
        '--client-ca-file', pki('ca.crt'),
        '--kubelet-client-certificate', pki('apiserver-kubelet-client.crt'), '--kubelet-client-key', pki('apiserver-kubelet-client.key'),
        '--kubelet-certificate-authority', pki('ca.crt'),
        '--kubelet-preferred-address-types', 'InternalIP',
        '--service-account-key-file', pki('sa.pub'),
        '--service-account-signing-key-file', pki('sa.key'),
        '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
        '--authorization-mode', 'Node,RBAC',
        '--enable-admission-plugins', 'NodeRestriction',
        '--allow-privileged=true',
        '--profiling=false',
        '--event-ttl', '1h',
        // Debian's etcd 3.4.23 predates 3.4.31, the first 3.4 with reliable watch progress
        // notifications: the API server then refuses watch-list streams (RequestWatchProgress),
        // and with WatchList on it turns every watch from resourceVersion "" or "0" into one,
        // so clients such as Argo's controller lose their watches and fall back to slow relists.
        '--feature-gates', 'WatchList=false',
        '--v', '1',
      ],
      ready: () => expectOk(`${API_SERVER}/readyz`, adminTls),
    },
    {
      name: 'containerd',
      timeoutMs: 30_000,
      argv: () => [VERSIONS.apt.containerd!.binary, '--config', writeContainerdConfig(p.images.pause!.ref), '--log-level', 'info'],
      ready: async () => {
        if (!fs.existsSync(CONTAINERD_SOCK)) throw new Error(`no socket ${CONTAINERD_SOCK} yet`);
        sh(VERSIONS.apt.ctr!.binary, ['--address', CONTAINERD_SOCK, 'version'], { component: 'containerd', timeout: 5000 });
      },
    },
    {
      name: 'kube-controller-manager',
      timeoutMs: 60_000,
      argv: () => [
        k['kube-controller-manager']!,
        '--kubeconfig', path.join(STATE, 'controller-manager.kubeconfig'),
        '--authentication-kubeconfig', path.join(STATE, 'controller-manager.kubeconfig'),
        '--authorization-kubeconfig', path.join(STATE, 'controller-manager.kubeconfig'),
        '--bind-address', '127.0.0.1',
        '--secure-port', '10257',
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        '--service-account-private-key-file', pki('sa.key'),
        '--root-ca-file', pki('ca.crt'),
        '--cluster-signing-cert-file', pki('ca.crt'), '--cluster-signing-key-file', pki('ca.key'),
        '--cluster-name', 'forge',
        '--allocate-node-cidrs=false',
        '--controllers', '*',
        '--profiling=false',
        '--v', '1',
      ],
      ready: () => expectOk('https://127.0.0.1:10257/healthz', { insecure: true }),
    },
    {
      name: 'kube-scheduler',
      timeoutMs: 60_000,
      argv: () => [
        k['kube-scheduler']!,
        '--kubeconfig', path.join(STATE, 'scheduler.kubeconfig'),
        '--authentication-kubeconfig', path.join(STATE, 'scheduler.kubeconfig'),
        '--authorization-kubeconfig', path.join(STATE, 'scheduler.kubeconfig'),
        '--bind-address', '127.0.0.1',
        '--secure-port', '10259',
        '--leader-elect=false',
        '--profiling=false',
        '--v', '1',
      ],
      ready: () => expectOk('https://127.0.0.1:10259/healthz', { insecure: true }),
    },
    {
      name: 'kubelet',
      timeoutMs: 90_000,
      argv: () => {
        kubeletStartedAt = Math.floor(Date.now() / 1000) * 1000;
        return kubeletArgv();
      },
      ready: kubeletReady,
    },
    {
      name: 'kube-proxy',
      timeoutMs: 60_000,
      argv: () => [k['kube-proxy']!, '--config', writeKubeProxyConfig(), '--v', '1'],
      ready: () => expectOk('http://127.0.0.1:10256/healthz'),
    },
  ];
}

function kubeletArgv(): string[] {
  return [
    paths().kubernetes.kubelet!,
    '--config', writeKubeletConfig(),
    '--kubeconfig', path.join(STATE, 'kubelet.kubeconfig'),
    '--root-dir', path.join(STATE, 'kubelet'),
    '--node-ip', NODE_IP,
    '--hostname-override', NODE_NAME,
    '--v', '1',
  ];
}

async function kubeletReady(): Promise<void> {
  await expectOk('http://127.0.0.1:10248/healthz');
  const node = JSON.parse(kubectl(['get', 'node', NODE_NAME, '-o', 'json'])) as {
    status?: { conditions?: { type: string; status: string; message?: string; lastHeartbeatTime?: string }[] };
  };
  const readyCond = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (readyCond?.status !== 'True') throw new Error(`node ${NODE_NAME} not Ready: ${readyCond?.message ?? 'no condition yet'}`);
  // A Node object kept from an earlier run says Ready until it is updated: wait for this
  // kubelet's own report.
  const beat = Date.parse(readyCond.lastHeartbeatTime ?? '');
  if (kubeletStartedAt && !(beat >= kubeletStartedAt - 1000)) throw new Error(`node ${NODE_NAME}: no status from this kubelet yet`);
}

// ---------------------------------------------------------------- network

/** Rules that keep pod traffic on the bridge: pods reach the node and each other, nothing else. */
const ISOLATION_RULES = [
  ['FORWARD', '-i', BRIDGE, '!', '-o', BRIDGE, '-m', 'comment', '--comment', 'forge-cluster: pods stay on this machine', '-j', 'DROP'],
  ['FORWARD', '-o', BRIDGE, '!', '-i', BRIDGE, '-m', 'comment', '--comment', 'forge-cluster: pods stay on this machine', '-j', 'DROP'],
];

function ensureBridge(): void {
  const exists = spawnSync('ip', ['link', 'show', BRIDGE], { encoding: 'utf8' }).status === 0;
  if (!exists) sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge'], { component: 'network' });
  const addrs = sh('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE], { component: 'network' });
  if (!addrs.includes(`${NODE_IP}/`)) sh('ip', ['addr', 'add', `${NODE_IP}/16`, 'dev', BRIDGE], { component: 'network' });
  sh('ip', ['link', 'set', BRIDGE, 'up'], { component: 'network' });
  // The CNI bridge plugin (isGateway) turns IPv4 forwarding on; remember the machine's setting
  // so that down restores it, and never let pod traffic be forwarded off the bridge.
  const fwdFile = path.join(RUN, 'ip_forward.orig');
  if (!fs.existsSync(fwdFile)) fs.writeFileSync(fwdFile, fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'));
  for (const rule of ISOLATION_RULES) {
    if (spawnSync('iptables', ['-w', '-C', ...rule]).status !== 0) sh('iptables', ['-w', '-I', ...rule], { component: 'network' });
  }
}

function removeBridge(): void {
  for (const rule of ISOLATION_RULES) {
    while (spawnSync('iptables', ['-w', '-C', ...rule]).status === 0) sh('iptables', ['-w', '-D', ...rule], { allowFail: true, component: 'network' });
  }
  if (spawnSync('ip', ['link', 'show', BRIDGE]).status === 0) sh('ip', ['link', 'del', BRIDGE], { allowFail: true, component: 'network' });
  const fwdFile = path.join(RUN, 'ip_forward.orig');
  if (fs.existsSync(fwdFile)) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', fs.readFileSync(fwdFile, 'utf8'));
}

// ---------------------------------------------------------------- images

/** Imports the image archives containerd does not hold yet; returns the names re-imported. */
function importImages(): Set<string> {
  const imported = new Set<string>();
  const images = paths().images;
  // REF TYPE DIGEST SIZE PLATFORMS LABELS: re-import when the archive's manifest differs.
  const present = new Map(
    ctr(['images', 'ls'])
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((f) => f.length > 2)
      .map((f) => [f[0]!, f[2]!]),
  );
  for (const [name, img] of Object.entries(images)) {
    let want = '';
    try {
      want = fs.readFileSync(`${img.archive}.digest`, 'utf8').trim();
    } catch {
      /* older archive without a digest file: import it */
    }
    if (want && present.get(img.ref) === want) continue;
    if (!fs.existsSync(img.archive)) throw new ClusterError(`image ${name}`, `archive ${img.archive} missing (node images/cluster/build.mjs)`);
    const started = Date.now();
    ctr(['images', 'import', '--no-unpack=false', img.archive]);
    imported.add(name);
    log(`image ${img.ref} imported in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  // Everything else in the store is an older build (earlier step image tags, and the `sha256:<id>`
  // names CRI gives every image): remove them so containerd collects their layers.
  const now = new Map(
    ctr(['images', 'ls'])
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((f) => f.length > 2)
      .map((f) => [f[0]!, f[2]!]),
  );
  const keep = new Set(Object.values(images).map((img) => now.get(img.ref)));
  const stale = [...now].filter(([, digest]) => !keep.has(digest)).map(([ref]) => ref);
  if (stale.length) {
    ctr(['images', 'rm', ...stale], true);
    log(`containerd: removed ${stale.length} image name(s) of earlier builds`);
  }
  return imported;
}

// ---------------------------------------------------------------- Argo

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** Directory of the Argo module in the Go module cache (its manifests/ hold the CRDs and RBAC). */
export function argoModuleDir(): string {
  return sh(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--argo-module-dir'], { component: 'argo' }).trim();
}

/** Argo's cluster-install manifests (CRDs, RBAC, workflow-controller) with the local images. */
export async function argoManifests(): Promise<K8sObject[]> {
  const src = path.join(argoModuleDir(), 'manifests');
  const copy = path.join(STATE, 'argo-manifests');
  fs.rmSync(copy, { recursive: true, force: true });
  fs.cpSync(src, copy, { recursive: true });
  sh('chmod', ['-R', 'u+w', copy]);
  const yaml = kubectl(['kustomize', path.join(copy, 'cluster-install')]);
  const imgs = paths().images;
  const objs = parseAllDocuments(yaml)
    .map((d) => d.toJSON() as K8sObject)
    .filter(Boolean)
    // The Argo Server is not part of this cluster (the argo CLI talks to the API server directly).
    .filter((o) => !/argo-server/.test(o.metadata.name));
  for (const o of objs) {
    if (o.kind === 'Deployment' && o.metadata.name === 'workflow-controller') {
      const podSpec = (o.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec;
      const c = podSpec.containers[0]!;
      c.image = imgs['workflow-controller']!.ref;
      c.imagePullPolicy = 'Never';
      c.args = ['--executor-image', imgs.argoexec!.ref, '--executor-image-pull-policy', 'Never', '--loglevel', 'info'];
      // Re-examine a running workflow after 2s instead of 10s (Argo's own end-to-end setup uses a
      // short requeue time too): a step that ends is noticed sooner. No other behaviour changes.
      c.env = [...((c.env as unknown[]) ?? []), { name: 'DEFAULT_REQUEUE_TIME', value: '2s' }];
    }
    if (o.kind === 'ConfigMap' && o.metadata.name === 'workflow-controller-configmap') {
      o.data = {
        ...(o.data ?? {}),
        // Small machine: keep the controller's footprint and polling modest.
        executor: stringify({ imagePullPolicy: 'Never', resources: { requests: { cpu: '10m', memory: '32Mi' } } }),
      };
    }
  }
  return objs;
}

async function installArgo(newControllerImage: boolean): Promise<void> {
  const started = Date.now();
  const objs = await argoManifests();
  kubectl(['create', 'namespace', ARGO_NAMESPACE], { allowFail: true });
  const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
  const rest = objs.filter((o) => o.kind !== 'CustomResourceDefinition');
  const toYaml = (os_: K8sObject[]) => os_.map((o) => `---\n${stringify(o)}`).join('');
  kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: toYaml(crds) });
  kubectl(['wait', '--for', 'condition=Established', '--timeout', '60s', ...crds.map((c) => `crd/${c.metadata.name}`)]);
  kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: toYaml(rest) });
  // Same tag, new content: a running controller keeps the old image unless its pod is replaced.
  if (newControllerImage) {
    kubectl(['-n', ARGO_NAMESPACE, 'rollout', 'restart', 'deployment/workflow-controller']);
  }
  const rollout = spawnSync(
    paths().kubernetes.kubectl!,
    ['--kubeconfig', KUBECONFIG, '-n', ARGO_NAMESPACE, 'rollout', 'status', 'deployment/workflow-controller', '--timeout=120s'],
    { encoding: 'utf8', timeout: 130_000 },
  );
  // The Deployment's status may still describe the pod of an earlier run: wait for a Ready pod.
  const ready =
    rollout.status === 0 &&
    spawnSync(
      paths().kubernetes.kubectl!,
      ['--kubeconfig', KUBECONFIG, '-n', ARGO_NAMESPACE, 'wait', '--for=condition=Ready', 'pod', '-l', 'app=workflow-controller', '--timeout=120s'],
      { encoding: 'utf8', timeout: 130_000 },
    ).status === 0;
  if (ready) {
    log(`argo: workflow-controller available in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return;
  }
  const pods = kubectl(['-n', ARGO_NAMESPACE, 'get', 'pods', '-o', 'wide'], { allowFail: true });
  const desc = kubectl(['-n', ARGO_NAMESPACE, 'describe', 'pods', '-l', 'app=workflow-controller'], { allowFail: true });
  const logs = kubectl(['-n', ARGO_NAMESPACE, 'logs', '-l', 'app=workflow-controller', '--tail', '30'], { allowFail: true });
  throw new ClusterError('workflow-controller', `not rolled out within 120s (${rollout.stdout}${rollout.stderr}).\n${pods}\n${desc.slice(-3000)}\n${logs}`);
}

// ---------------------------------------------------------------- commands

function preflight(): void {
  if (process.getuid?.() !== 0) throw new ClusterError('preflight', 'the cluster needs root (containerd, kubelet, iptables)');
  const missing = Object.entries(VERSIONS.apt).filter(([k, t]) => !k.startsWith('$') && !fs.existsSync(t.binary));
  if (missing.length) {
    throw new ClusterError(
      'preflight',
      `missing Debian packages: ${[...new Set(missing.map(([, t]) => t.package))].join(' ')}; install them with: node images/toolchain/install.mjs (or apt-get install -y ${[...new Set(missing.map(([, t]) => t.package))].join(' ')})`,
    );
  }
}

export async function up(): Promise<void> {
  preflight();
  const started = Date.now();
  log(`building (cached) with images/cluster/build.mjs …`);
  sh(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs')], { stdio: 'inherit', timeout: 3 * 3600_000, component: 'build' });
  PATHS = builtPaths();
  for (const d of [STATE, RUN, LOGS]) fs.mkdirSync(d, { recursive: true });
  ensurePki();
  ensureBridge();
  const comps = components();
  let imported = new Set<string>();
  for (const c of comps) {
    await start(c);
    if (c.name === 'containerd') imported = importImages();
  }
  await installArgo(imported.has('workflow-controller'));
  const info = { kubeconfig: KUBECONFIG, apiServer: API_SERVER, node: NODE_NAME, nodeIp: NODE_IP, images: Object.fromEntries(Object.entries(paths().images).map(([k, v]) => [k, v.ref])), logs: LOGS };
  fs.writeFileSync(path.join(STATE, 'cluster.json'), `${JSON.stringify(info, null, 2)}\n`);
  log(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)}s — export KUBECONFIG=${KUBECONFIG}`);
}

/** Chains the kubelet creates for itself (kube-proxy --cleanup removes kube-proxy's own). */
const KUBELET_CHAINS = ['KUBE-FIREWALL', 'KUBE-KUBELET-CANARY', 'KUBE-IPTABLES-HINT'];

function removeKubeletChains(): void {
  for (const cmd of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = spawnSync(cmd, ['-w', '-t', table, '-S'], { encoding: 'utf8' }).stdout ?? '';
      for (const line of rules.split('\n')) {
        const m = /^-A (\S+) (.*-j (\S+))$/.exec(line);
        if (m && KUBELET_CHAINS.includes(m[3]!) && !KUBELET_CHAINS.includes(m[1]!)) {
          spawnSync(cmd, ['-w', '-t', table, '-D', m[1]!, ...m[2]!.split(' ').map((a) => a.replace(/^"|"$/g, ''))]);
        }
      }
      for (const chain of KUBELET_CHAINS) {
        if (new RegExp(`^-N ${chain}$`, 'm').test(rules)) {
          spawnSync(cmd, ['-w', '-t', table, '-F', chain]);
          spawnSync(cmd, ['-w', '-t', table, '-X', chain]);
        }
      }
    }
  }
}

/** The kubelet's cgroup tree (/kubepods in every cgroup v1 hierarchy), empty once pods are gone. */
function removePodCgroups(): void {
  const rmTree = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch (e) {
      log(`cgroup ${dir} not removed: ${(e as Error).message}`);
    }
  };
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, 'kubepods');
    if (fs.existsSync(dir)) rmTree(dir);
  }
}

/** Every mount point under our directories, deepest first. */
function ourMounts(): string[] {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m.startsWith(`${STATE}/`) || m.startsWith(`${RUN}/`));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/** containerd shims of our containerd (they outlive it by design): matched by our socket path. */
function ourShims(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('containerd-shim-runc-v2') && cmd.includes(CONTAINERD_SOCK)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Deletes every pod through the API while the kubelet still runs (the scheduler and the
 * controller-manager are already stopped, so nothing is recreated): the kubelet stops each pod's
 * containers and sandbox through CRI, and containerd tears the pod's network down (CNI DEL).
 */
async function drainPods(): Promise<void> {
  const listed = kubectl(['get', 'pods', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}'], { allowFail: true })
    .split('\n')
    .filter(Boolean);
  if (!listed.length) return;
  kubectl(['delete', 'pods', '-A', '--all', '--grace-period=5', '--wait=false'], { allowFail: true });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const running = ctr(['tasks', 'ls', '-q'], true).split('\n').filter(Boolean);
    const left = kubectl(['get', 'pods', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/pods/{.metadata.name}{"\\n"}{end}'], {
      allowFail: true,
    })
      .split('\n')
      .filter(Boolean);
    if (!running.length && !left.length) break;
    // A pod whose finalizer nobody removes any more (its controller is gone): drop the finalizer.
    if (Date.now() > deadline - 45_000) {
      for (const p of left) {
        const [ns, name] = p.split('/pods/') as [string, string];
        kubectl(['-n', ns, 'patch', `pod/${name}`, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}'], { allowFail: true });
      }
    }
    await sleep(500);
  }
  log(`kubelet: ${listed.length} pod(s) stopped and removed`);
}

export async function down(opts: { purge?: boolean } = {}): Promise<void> {
  const started = Date.now();
  for (const name of ['kube-proxy', 'kube-scheduler', 'kube-controller-manager']) await stop(name);
  if (readPid('kubelet') && readPid('kube-apiserver') && readPid('containerd')) await drainPods();
  await stop('kubelet');
  if (readPid('containerd')) {
    // Whatever the kubelet did not remove (it was not running, or a pod did not stop in time).
    const tasks = ctr(['tasks', 'ls', '-q'], true).split('\n').filter(Boolean);
    for (const t of tasks) ctr(['tasks', 'kill', '--signal', 'SIGKILL', t], true);
    for (const t of tasks) ctr(['tasks', 'delete', '--force', t], true);
    const containers = ctr(['containers', 'ls', '-q'], true).split('\n').filter(Boolean);
    for (const c of containers) ctr(['containers', 'delete', c], true);
    if (tasks.length || containers.length) log(`containerd: removed ${tasks.length} task(s), ${containers.length} container(s) left by the kubelet`);
  }
  await stop('containerd');
  for (const pid of ourShims()) {
    log(`containerd shim ${pid} left behind: stopping it`);
    await stopPid('containerd-shim', pid, 5000);
  }
  await stop('kube-apiserver');
  await stop('etcd');
  try {
    const kp = paths().kubernetes['kube-proxy'];
    if (kp && fs.existsSync(kp)) sh(kp, ['--cleanup', '--v', '0'], { allowFail: true, component: 'kube-proxy' });
  } catch {
    /* not built: nothing to clean */
  }
  removeKubeletChains();
  for (const m of ourMounts()) sh('umount', ['-l', m], { allowFail: true, component: 'umount' });
  removePodCgroups();
  removeBridge();
  fs.rmSync(RUN, { recursive: true, force: true });
  if (opts.purge) {
    for (const d of ['etcd', 'kubelet', 'cni', 'pod-logs', 'cluster.json']) fs.rmSync(path.join(STATE, d), { recursive: true, force: true });
    log('purged etcd, kubelet and CNI state (certificates, logs and the image store are kept)');
  }
  log(`cluster down in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

function rssKiB(pid: number): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function status(): Promise<{ components: Record<string, { pid?: number; rssMiB?: number; healthy: boolean; detail?: string }>; podsMiB: number; totalMiB: number }> {
  const result: Record<string, { pid?: number; rssMiB?: number; healthy: boolean; detail?: string }> = {};
  let total = 0;
  const comps = fs.existsSync(path.join(PKI, 'ca.crt')) ? components() : [];
  for (const c of comps) {
    const pid = readPid(c.name);
    if (!pid) {
      result[c.name] = { healthy: false, detail: 'not running' };
      continue;
    }
    const rss = rssKiB(pid) / 1024;
    total += rss;
    try {
      await c.ready();
      result[c.name] = { pid, rssMiB: Math.round(rss), healthy: true };
    } catch (e) {
      result[c.name] = { pid, rssMiB: Math.round(rss), healthy: false, detail: (e as Error).message };
    }
  }
  const shims = ourShims();
  const shimMiB = shims.reduce((s, p) => s + rssKiB(p), 0) / 1024;
  total += shimMiB;
  result['containerd-shims'] = { healthy: true, rssMiB: Math.round(shimMiB), detail: `${shims.length} shim(s)` };
  let podsMiB = 0;
  try {
    podsMiB = Number(fs.readFileSync('/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes', 'utf8')) / 1048576;
  } catch {
    /* no pods cgroup */
  }
  if (readPid('kube-apiserver')) {
    const out = kubectl(['-n', ARGO_NAMESPACE, 'get', 'deployment', 'workflow-controller', '-o', 'jsonpath={.status.availableReplicas}'], { allowFail: true });
    result['workflow-controller'] = { healthy: out.trim() === '1', detail: out.trim() === '1' ? 'available' : 'not available' };
  }
  return { components: result, podsMiB: Math.round(podsMiB), totalMiB: Math.round(total + podsMiB) };
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'up') await up();
    else if (cmd === 'down') await down({ purge: rest.includes('--purge') });
    else if (cmd === 'status') {
      const s = await status();
      if (rest.includes('--json')) console.log(JSON.stringify(s, null, 2));
      else {
        for (const [n, c] of Object.entries(s.components)) {
          console.log(`${c.healthy ? '✓' : '✗'} ${n.padEnd(26)} ${c.pid ? `pid ${String(c.pid).padEnd(8)}` : ''.padEnd(12)}${c.rssMiB !== undefined ? `${String(c.rssMiB).padStart(5)} MiB  ` : ''}${c.detail ?? ''}`);
        }
        console.log(`pods (cgroup kubepods): ${s.podsMiB} MiB; total: ${s.totalMiB} MiB`);
        console.log(`KUBECONFIG=${KUBECONFIG}   logs: ${LOGS}`);
      }
      if (!Object.values(s.components).every((c) => c.healthy)) process.exitCode = 1;
    } else {
      console.error('usage: cluster.ts up | down [--purge] | status [--json]');
      process.exitCode = 2;
    }
  } catch (e) {
    if (e instanceof ClusterError) {
      console.error(`\ncluster ${cmd} FAILED — ${e.message}`);
      console.error(`logs: ${LOGS}`);
      process.exitCode = 1;
    } else throw e;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
