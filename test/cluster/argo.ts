/**
 * Argo Workflows on the local cluster: Argo's own cluster-install manifests (full CRDs, RBAC,
 * workflow-controller) from the pinned module, with the local images, and the controller's
 * ConfigMap exactly as `npm run synth` generates it (cdk8s/charts/argo-controller.ts:
 * templateReferencing: Secure, the hardened executor) — no hand-written controller settings.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { buildApp } from '../../cdk8s/app.ts';
import { loadPlatformConfig } from '../../cdk8s/platform-config.ts';
import { kubectl } from './kubectl.ts';
import { ARGO_NAMESPACE, ClusterError, KUBECONFIG, log, paths, REPO_ROOT, sh, STATE } from './layout.ts';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** The local copy of the Argo module the builder made (its manifests/ hold the CRDs and RBAC). */
export function argoModuleDir(): string {
  return sh(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--argo-module-dir'], { component: 'argo' }).trim();
}

/**
 * The controller's ConfigMap from the library's own chart, synthesized from the example platform
 * configuration (what `npm run synth` writes to dist/manifests/argo-controller.yaml), placed in
 * this cluster's Argo namespace under the name the controller reads.
 */
export async function generatedControllerConfig(): Promise<K8sObject> {
  const config = await loadPlatformConfig(path.join(REPO_ROOT, 'cdk8s/platform.example.yaml'));
  config.argo = { ...config.argo, controllerNamespace: ARGO_NAMESPACE, controllerConfigMap: 'workflow-controller-configmap' };
  const chart = buildApp(config, path.join(STATE, 'synth')).charts.find((c) => c.node.id === 'argo-controller');
  const [cm] = (chart?.toJson() ?? []) as K8sObject[];
  if (cm?.kind !== 'ConfigMap') throw new ClusterError('argo', 'the argo-controller chart generated no ConfigMap');
  return cm;
}

/** Argo's cluster-install manifests (CRDs, RBAC, workflow-controller) with the local images and the generated settings. */
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
    .filter((o) => !/argo-server/.test(o.metadata.name))
    // Argo's own (empty) controller ConfigMap is replaced by the generated one.
    .filter((o) => !(o.kind === 'ConfigMap' && o.metadata.name === 'workflow-controller-configmap'));
  for (const o of objs) {
    if (o.kind === 'Deployment' && o.metadata.name === 'workflow-controller') {
      const podSpec = (o.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec;
      const c = podSpec.containers[0]!;
      c.image = imgs['workflow-controller']!.ref;
      c.imagePullPolicy = 'Never';
      // The executor image is local (no registry): its pull policy is this cluster's, not the library's.
      c.args = ['--executor-image', imgs.argoexec!.ref, '--executor-image-pull-policy', 'Never', '--loglevel', 'info'];
      // Re-examine a running workflow after 2s instead of 10s (Argo's own end-to-end setup uses a
      // short requeue time too): a step that ends is noticed sooner. No other behaviour changes.
      c.env = [...((c.env as unknown[]) ?? []), { name: 'DEFAULT_REQUEUE_TIME', value: '2s' }];
    }
  }
  const cm = await generatedControllerConfig();
  return [...objs, { ...cm, metadata: { ...cm.metadata, namespace: ARGO_NAMESPACE } }];
}

/** Applies Argo (CRDs first, server-side: the full CRDs are too large for client-side apply) and waits for a Ready controller. */
export async function installArgo(newControllerImage: boolean): Promise<void> {
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
  const kubectlBin = paths().kubernetes.kubectl!;
  const rollout = spawnSync(kubectlBin, ['--kubeconfig', KUBECONFIG, '-n', ARGO_NAMESPACE, 'rollout', 'status', 'deployment/workflow-controller', '--timeout=120s'], {
    encoding: 'utf8',
    timeout: 130_000,
  });
  // The Deployment's status may still describe the pod of an earlier run: wait for a Ready pod.
  const ready =
    rollout.status === 0 &&
    spawnSync(kubectlBin, ['--kubeconfig', KUBECONFIG, '-n', ARGO_NAMESPACE, 'wait', '--for=condition=Ready', 'pod', '-l', 'app=workflow-controller', '--timeout=120s'], {
      encoding: 'utf8',
      timeout: 130_000,
    }).status === 0;
  if (ready) {
    log(`argo: workflow-controller available in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return;
  }
  const pods = kubectl(['-n', ARGO_NAMESPACE, 'get', 'pods', '-o', 'wide'], { allowFail: true });
  const desc = kubectl(['-n', ARGO_NAMESPACE, 'describe', 'pods', '-l', 'app=workflow-controller'], { allowFail: true });
  const logs = kubectl(['-n', ARGO_NAMESPACE, 'logs', '-l', 'app=workflow-controller', '--tail', '30'], { allowFail: true });
  throw new ClusterError('workflow-controller', `not rolled out within 120s (${rollout.stdout}${rollout.stderr}).\n${pods}\n${desc.slice(-3000)}\n${logs}`);
}
