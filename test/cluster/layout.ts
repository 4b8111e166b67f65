/** Layout of the local cluster (test/cluster/cluster.ts): paths, addresses, versions, shared helpers. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
const TOOLS_HOME = path.resolve(process.env.FORGE_TOOLS_HOME || path.join(os.homedir(), '.cache', 'forge-workflows'));
/** Persistent state: certificates, etcd, containerd's image store, kubelet, logs. */
export const STATE = path.resolve(process.env.FORGE_CLUSTER_DIR || path.join(TOOLS_HOME, 'cluster', 'state'));
/** Runtime state: sockets, pid files, containerd and runc state (removed by down). */
export const RUN = path.resolve(process.env.FORGE_CLUSTER_RUN_DIR || '/run/forge-cluster');
export const LOGS = path.join(STATE, 'logs');
export const PKI = path.join(STATE, 'pki');
export const KUBECONFIG = path.join(STATE, 'admin.kubeconfig');
export const CONTAINERD_SOCK = path.join(RUN, 'containerd.sock');

export const NODE_NAME = 'forge-node';
/** Gateway of the pod bridge: the node address, where the API server and kubelet listen. */
export const NODE_IP = '10.88.0.1';
export const BRIDGE = 'forge0';
export const POD_CIDR = '10.88.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const API_SERVER = `https://${NODE_IP}:6443`;
export const ARGO_NAMESPACE = 'argo';

export interface Versions {
  kubernetes: { version: string };
  argo: { version: string };
  apt: Record<string, { package: string; binary: string }>;
}
export const VERSIONS = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'images/cluster/versions.json'), 'utf8')) as Versions;

export interface BuiltPaths {
  kubernetes: Record<string, string>;
  argo: Record<string, string>;
  /** keda-operator, keda-adapter, and `module`: the KEDA module copy (config/ holds its CRDs and RBAC). */
  keda: Record<string, string>;
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
export function log(msg: string): void {
  console.log(`[cluster +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sh(cmd: string, args: string[], opts: SpawnSyncOptions & { component?: string; allowFail?: boolean } = {}): string {
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

export function builtPaths(): BuiltPaths {
  const out = sh(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--paths'], { component: 'build' });
  return JSON.parse(out) as BuiltPaths;
}

let PATHS: BuiltPaths | undefined;
/** Paths of the built binaries and images (asked of build.mjs once; `refresh` after a build). */
export function paths(refresh = false): BuiltPaths {
  if (refresh || !PATHS) PATHS = builtPaths();
  return PATHS;
}
