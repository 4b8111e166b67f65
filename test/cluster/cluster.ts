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
 * from the Argo module and installed with Argo's own CRDs and RBAC and the controller settings the
 * library generates (templateReferencing: Secure). Images (pause, argoexec, workflow-controller,
 * steps) are built locally and imported into containerd: no registry.
 *
 * Network: etcd, controller-manager, scheduler and every health endpoint listen on 127.0.0.1.
 * Pods get their own network namespace on the bridge `forge0` (10.88.0.0/16, CNI bridge +
 * host-local); the API server and the kubelet listen on the bridge's gateway address 10.88.0.1 so
 * that pods reach them (through the `kubernetes` Service, kube-proxy in iptables mode). Nothing
 * listens on the machine's external interface.
 *
 * Modules: layout.ts (paths, addresses, versions, sh), pki.ts (certificates, kubeconfigs),
 * processes.ts (start/stop with readiness deadlines, health checks), config-files.ts (containerd,
 * CNI, kubelet, kube-proxy), components.ts (the processes in start order), network.ts (bridge,
 * isolation rules, host clean-up), images.ts (image import), kubectl.ts, argo.ts (Argo's install);
 * this file: up, down, status. The API server runs the aggregation layer (front-proxy certificates
 * in pki.ts) so that keda.ts can install KEDA (built from its module) for keda.e2e.ts; pools.ts
 * deploys NATS and the worker pools for the tests that use them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installArgo } from './argo.ts';
import { components } from './components.ts';
import { importImages } from './images.ts';
import { ctr, kubectl } from './kubectl.ts';
import { ARGO_NAMESPACE, API_SERVER, ClusterError, CONTAINERD_SOCK, KUBECONFIG, log, LOGS, NODE_IP, NODE_NAME, paths, PKI, REPO_ROOT, RUN, sh, sleep, STATE, VERSIONS } from './layout.ts';
import { ensureBridge, ourMounts, removeBridge, removeKubeletChains, removePodCgroups } from './network.ts';
import { ensurePki } from './pki.ts';
import { isRunning, readPid, start, stop, stopPid } from './processes.ts';

export { isRunning, REPO_ROOT, STATE };

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
  paths(true);
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
