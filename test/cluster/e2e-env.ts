/**
 * Where the end-to-end tests run: the local cluster of test/cluster/cluster.ts by default, or any
 * cluster named by a kubeconfig (kind, k3d, a cloud one). See docs/testing-on-a-real-cluster.md.
 *
 *   FORGE_E2E_KUBECONFIG   kubeconfig of the cluster (default: the local cluster's admin kubeconfig)
 *   FORGE_E2E_STEPS_IMAGE  step image reference the cluster can run (default: the locally built one)
 *   FORGE_E2E_PULL_POLICY  imagePullPolicy for it (default Never: the local image is imported)
 *   FORGE_E2E_NAMESPACE    namespace of the test workflows (default forge-e2e; created if missing)
 *   FORGE_E2E_GIT_LISTEN   address the test's git daemon listens on, reachable from pods
 *                          (default the local node address 10.88.0.1); the verify-and-promote
 *                          test serves its registries, PostgreSQL and reports there too
 *   FORGE_E2E_POD_NETWORK  CIDR the pods connect from, trusted by the test's PostgreSQL
 *                          (default 10.88.0.0/16, the local cluster's pod bridge)
 * Argo's workflow-controller (3.7.14+, 4.0.5+ or 4.1.0+) must already run in the cluster with the
 * settings the library generates, dist/manifests/argo-controller.yaml (cluster:up installs both).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { toolPath } from '../../steps/lib/tools.ts';
import { freePort } from '../helpers/ports.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
const TOOLS_HOME = path.resolve(process.env.FORGE_TOOLS_HOME || path.join(os.homedir(), '.cache', 'forge-workflows'));
const LOCAL_STATE = path.resolve(process.env.FORGE_CLUSTER_DIR || path.join(TOOLS_HOME, 'cluster', 'state'));

interface LocalClusterInfo {
  kubeconfig: string;
  nodeIp: string;
  images: Record<string, string>;
}

export function localCluster(): LocalClusterInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(LOCAL_STATE, 'cluster.json'), 'utf8')) as LocalClusterInfo;
  } catch {
    return undefined;
  }
}

export interface E2eEnv {
  kubeconfig: string;
  stepsImage: string;
  pullPolicy: 'Never' | 'IfNotPresent' | 'Always';
  namespace: string;
  gitListen: string;
  /** CIDR the pods' connections come from (servers the tests start let it in). */
  podNetwork: string;
  kubectlBin: string;
  argoBin: string;
}

export function e2eEnv(): E2eEnv {
  const local = localCluster();
  const kubeconfig = process.env.FORGE_E2E_KUBECONFIG || local?.kubeconfig;
  if (!kubeconfig || !fs.existsSync(kubeconfig)) {
    throw new Error(
      'no cluster for the end-to-end tests: start the local one with `npm run cluster:up`, or set FORGE_E2E_KUBECONFIG to a kubeconfig (see docs/testing-on-a-real-cluster.md)',
    );
  }
  const stepsImage = process.env.FORGE_E2E_STEPS_IMAGE || local?.images.steps;
  if (!stepsImage) throw new Error('FORGE_E2E_STEPS_IMAGE is not set and the local cluster has no steps image');
  const builtKubectl = (() => {
    try {
      const out = execFileSync(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--paths'], { encoding: 'utf8' });
      return (JSON.parse(out) as { kubernetes: Record<string, string> }).kubernetes.kubectl;
    } catch {
      return undefined;
    }
  })();
  return {
    kubeconfig,
    stepsImage,
    pullPolicy: (process.env.FORGE_E2E_PULL_POLICY as E2eEnv['pullPolicy']) || 'Never',
    namespace: process.env.FORGE_E2E_NAMESPACE || 'forge-e2e',
    gitListen: process.env.FORGE_E2E_GIT_LISTEN || local?.nodeIp || '127.0.0.1',
    podNetwork: process.env.FORGE_E2E_POD_NETWORK || '10.88.0.0/16',
    kubectlBin: builtKubectl && fs.existsSync(builtKubectl) ? builtKubectl : 'kubectl',
    argoBin: toolPath('argo'),
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws on a non-zero exit). */
export function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
    if (child.stdin) {
      // A command may exit without reading all its input (EPIPE): its exit code tells what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

export async function kubectl(env: E2eEnv, args: string[], input?: string): Promise<string> {
  const r = await run(env.kubectlBin, ['--kubeconfig', env.kubeconfig, ...args], { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function argo(env: E2eEnv, args: string[], timeoutMs = 600_000): Promise<RunResult> {
  return run(env.argoBin, ['--kubeconfig', env.kubeconfig, '-n', env.namespace, ...args], { timeoutMs });
}

export interface ArgoNode {
  id: string;
  type: string;
  templateName?: string;
  templateRef?: { name: string; template: string };
  displayName?: string;
  phase: string;
  message?: string;
  outputs?: { parameters?: { name: string; value?: string }[]; exitCode?: string };
}
export interface ArgoWorkflow {
  metadata: { name: string };
  status: { phase: string; message?: string; nodes?: Record<string, ArgoNode> };
}

export async function getWorkflow(env: E2eEnv, name: string): Promise<ArgoWorkflow> {
  const r = await argo(env, ['get', name, '-o', 'json']);
  if (r.code !== 0) throw new Error(`argo get ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ArgoWorkflow;
}

/** Name of the workflow `argo submit … -o name` printed (the last non-empty line). */
export function submittedName(r: RunResult): string {
  const m = /^Name:\s+(\S+)/m.exec(r.stdout);
  if (m) return m[1]!;
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1]!.trim();
}

/** `git daemon` serving `baseDir` read-only on host:port; resolves once it accepts connections. */
export async function gitDaemon(baseDir: string, host: string, opts: { push?: boolean } = {}): Promise<{ url: (repo: string) => string; stop: () => Promise<void>; process: ChildProcess }> {
  const port = await freePort(host);
  const child = spawn(
    toolPath('git'),
    // push: anonymous receive-pack, for a GitOps repository the release pool's workers push to.
    ['daemon', `--listen=${host}`, `--port=${port}`, `--base-path=${baseDir}`, '--export-all', '--reuseaddr', '--informative-errors', ...(opts.push ? ['--enable=receive-pack'] : []), baseDir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`git daemon did not start on ${host}:${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: (repo) => `git://${host}:${port}/${repo}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Creates the test namespace and a least-privilege service account for the test workflows. */
export async function ensureNamespace(env: E2eEnv, extraYaml = ''): Promise<void> {
  const yaml = `
apiVersion: v1
kind: Namespace
metadata: { name: ${env.namespace} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: e2e-workflow, namespace: ${env.namespace} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: e2e-executor, namespace: ${env.namespace} }
rules:
  - apiGroups: [argoproj.io]
    resources: [workflowtaskresults]
    verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: e2e-executor, namespace: ${env.namespace} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-executor }
subjects:
  - { kind: ServiceAccount, name: e2e-workflow, namespace: ${env.namespace} }
${extraYaml}`;
  await kubectl(env, ['apply', '-f', '-'], yaml);
}

/**
 * Synthesizes the library for this cluster — the example platform config with the local step
 * image, no artifact repository and no admission policy (no Kyverno here), changed further by
 * `adjust` — applies the RBAC and the given extra charts, and applies the named WorkflowTemplate.
 */
export async function synthesizeAndApply(
  env: E2eEnv,
  tmp: string,
  opts: { template: string | string[]; charts?: string[]; adjust?: (config: Record<string, unknown>) => void },
): Promise<void> {
  const config = parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk8s/platform.example.yaml'), 'utf8')) as Record<string, unknown>;
  const at = env.stepsImage.lastIndexOf(':');
  config.namespace = env.namespace;
  config.images = { ...(config.images as object), steps: { repository: env.stepsImage.slice(0, at), tag: env.stepsImage.slice(at + 1) } };
  config.imagePullPolicy = env.pullPolicy;
  delete config.artifactRepositoryRef;
  delete config.admission;
  // No GitHub here: the exit handler's commit status step would fail (visibly, without changing the run's phase).
  delete config.github;
  opts.adjust?.(config);
  const configFile = path.join(tmp, 'platform.yaml');
  fs.writeFileSync(configFile, stringify(config));
  const outdir = path.join(tmp, 'manifests');
  const synth = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cdk8s/main.ts')], {
    env: { FORGE_PLATFORM_CONFIG: configFile, FORGE_SYNTH_OUTDIR: outdir },
  });
  if (synth.code !== 0) throw new Error(`synth failed: ${synth.stderr}`);

  await ensureNamespace(env);
  for (const chart of ['rbac', ...(opts.charts ?? [])]) await kubectl(env, ['apply', '-f', path.join(outdir, `${chart}.yaml`)]);
  const templates = fs.readFileSync(path.join(outdir, 'workflow-templates.yaml'), 'utf8');
  for (const name of [opts.template].flat()) {
    // By metadata.name: a template's text also names the templates it references.
    const doc = templates.split(/^---$/m).find((d) => {
      const o = parse(d) as { kind?: string; metadata?: { name?: string } } | null;
      return o?.kind === 'WorkflowTemplate' && o.metadata?.name === name;
    });
    if (!doc) throw new Error(`${name} is not in the synthesized templates`);
    await kubectl(env, ['-n', env.namespace, 'apply', '-f', '-'], doc);
  }
}
