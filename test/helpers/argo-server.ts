import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { toolPath } from '../../steps/lib/tools.ts';
import { kubeApiServerAvailable, kubeApiServerMissing, startKubeApiServer, type KubeApiServer } from './kube-apiserver.ts';
import { freePort } from './ports.ts';
import { upstreamFile } from './upstream-files.ts';
import { stopProcess } from '../../steps/lib/stop-process.ts';

/**
 * A real `argo server` (the pinned argo binary) on a loopback port, plain HTTP, with
 * `--auth-mode=client`: each request's bearer token is used against the real kube-apiserver of
 * ./kube-apiserver.ts, so the helper's `admin` token may do everything and `reader` nothing.
 * No workflow-controller: tests drive a workflow's status themselves (`setPhase`).
 */
export interface ArgoServer {
  url: string;
  /** Ends the server with SIGKILL (a crash: open streams break); `up()` starts it again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

const CRDS = ['workflows', 'workflowtemplates', 'clusterworkflowtemplates', 'cronworkflows', 'workfloweventbindings', 'workflowtaskresults', 'workflowtasksets', 'workflowartifactgctasks'];

function postJson(kc: KubeConfig, path: string, body: unknown): Promise<void> {
  const server = kc.getCurrentCluster()!.server;
  const token = kc.getCurrentUser()!.token!;
  return new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`POST ${path}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Argo's (minimal) CRDs from the pinned module, a namespace, and a WorkflowTemplate to reference. */
export async function installArgo(kc: KubeConfig, namespace: string, template: string): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  // Posted as JSON: client-node's typed models drop the `x-kubernetes-*` keys (the CRDs would
  // then prune every spec to {}).
  for (const crd of CRDS) {
    const body = parse(readFileSync(upstreamFile('argo-workflows', `manifests/base/crds/minimal/argoproj.io_${crd}.yaml`), 'utf8'));
    await postJson(kc, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body);
  }
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // The server reads the controller's settings at start; none are needed here.
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'workflow-controller-configmap' }, data: {} } });
  const custom = kc.makeApiClient(CustomObjectsApi);
  // Wait until every CRD is Established: an object created before that is pruned to `spec: {}`.
  const deadline = Date.now() + 30_000;
  for (const crd of CRDS) {
    for (;;) {
      const got = await ext.readCustomResourceDefinition({ name: `${crd}.argoproj.io` });
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd}.argoproj.io was not Established in 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const ref = { group: 'argoproj.io', version: 'v1alpha1', namespace, plural: 'workflowtemplates' };
  await custom.createNamespacedCustomObject({
    ...ref,
    body: {
      apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate', metadata: { name: template, namespace },
      spec: {
        entrypoint: 'main',
        arguments: { parameters: ['repo-url', 'commit', 'branch', 'tag', 'pull-request'].map((name) => ({ name, value: '' })) },
        templates: [{ name: 'main', container: { image: 'example.invalid/none', command: ['true'] } }],
      },
    },
  });
  const stored = (await custom.getNamespacedCustomObject({ ...ref, name: template })) as { spec?: { entrypoint?: string } };
  if (stored.spec?.entrypoint !== 'main') throw new Error(`the WorkflowTemplate ${template} was stored without its spec: ${JSON.stringify(stored.spec)}`);
}

/** Sets a workflow's status as the controller would (phase, nodes, message). */
export async function setStatus(kc: KubeConfig, namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: 'argoproj.io', version: 'v1alpha1', namespace, plural: 'workflows', name };
  const wf = (await custom.getNamespacedCustomObject(ref)) as Record<string, unknown>;
  await custom.replaceNamespacedCustomObject({ ...ref, body: { ...wf, status } });
}

export async function startArgoServer(kube: KubeApiServer, timeoutMs = 60_000): Promise<ArgoServer> {
  const argo = toolPath('argo');
  const dir = await mkdtemp(join(tmpdir(), 'forge-argo-server-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kube.kubeConfig('admin').exportConfig(), { mode: 0o600 });
  const adminToken = kube.kubeConfig('admin').getCurrentUser()!.token!;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let starts = 0;

  const start = async () => {
    starts += 1;
    const logFile = join(dir, `argo-server-${starts}.log`);
    const log = createWriteStream(logFile);
    const tail = () => readFileSync(logFile, 'utf8').slice(-1500);
    const c = spawn(argo, ['server', '--auth-mode=client', '--secure=false', '--port', String(port), '--namespaced', '--namespace', 'argo', '--kubeconfig', kubeconfig, '--loglevel', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // In client mode the server builds each request's Kubernetes client from the default
      // configuration (KUBECONFIG) with the caller's token in place of the credentials.
      env: { ...process.env, KUBECONFIG: kubeconfig, ARGO_BASE_HREF: '/' },
    });
    c.stdout!.pipe(log);
    c.stderr!.pipe(log);
    child = c;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (c.exitCode !== null) throw new Error(`argo server exited (${c.exitCode}) before it was ready:\n${tail()}`);
      // Ready when a call that goes through its gRPC side answers (503 while that side starts).
      const up = await fetch(`${url}/api/v1/workflows/argo?listOptions.limit=1`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
      if (up) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`argo server was not ready in ${timeoutMs} ms:\n${tail()}`);
  };
  const kill = (signal: NodeJS.Signals) => stopProcess(child, signal);
  const stop = async () => {
    await kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    down: () => kill('SIGKILL'),
    up: start,
    stop,
  };
}

/**
 * The whole stack the submission tests talk to: a kube-apiserver with Argo's CRDs and `template`
 * in `namespace`, and an argo server on it. `stop()` ends both (the server first).
 */
export async function startArgoStack(namespace: string, template: string, who: string): Promise<{ kube: KubeApiServer; argo: ArgoServer; stop(): Promise<void> }> {
  if (!kubeApiServerAvailable) throw new Error(`${who} ${kubeApiServerMissing}`);
  const kube = await startKubeApiServer();
  try {
    await installArgo(kube.kubeConfig('admin'), namespace, template);
    const argo = await startArgoServer(kube);
    const stop = async () => {
      await argo.stop();
      await kube.stop();
    };
    return { kube, argo, stop };
  } catch (e) {
    await kube.stop();
    throw e;
  }
}
