import { ApiObject, Chart, type App } from 'cdk8s';
import type { Construct } from 'constructs';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { standardLabels } from '../constructs/labels.ts';
import { addTyped } from '../constructs/typed-object.ts';
import type { PlatformConfig } from '../platform-config.ts';
import { applicationEnvironments, applicationName, applicationNamespace, type ArgocdApplication, type ArgocdConfig } from '../platform-config-argocd.ts';
import { KEY_CONFIGMAP_SUFFIX, KEY_MOUNT, PLUGIN_CONFIGMAP_SUFFIX, pluginYaml, repoServerPatch } from './argocd-sidecar.ts';

/**
 * Argo CD (`release.argocd`, docs/argocd.md), for an Argo CD installed by its own manifests or
 * Helm chart, in its namespace:
 *   - `argocd`: the plugin's `plugin.yaml` and the release verification key (ConfigMaps: a public
 *     key is not secret), and one Application per (environment, application);
 *   - `argocd-repo-server-patch`: a strategic-merge patch of the repo server's Deployment that adds
 *     the plugin's sidecar, applied with `kubectl patch --type strategic --patch-file`, not `kubectl apply`.
 */

/** The fields of an Argo CD Application (argoproj.io/v1alpha1) that are generated; checked against Argo CD's CRD in the tests. */
export interface Application {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'Application';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: {
    project: string;
    source: { repoURL: string; targetRevision: string; path: string; plugin?: { name: string } };
    destination: { server: string; namespace: string };
    syncPolicy: { automated: Record<string, never>; syncOptions: string[] };
  };
}

/** The cluster Argo CD runs in, as Argo CD names it. */
export const IN_CLUSTER = 'https://kubernetes.default.svc';

export function application(config: PlatformConfig, argocd: ArgocdConfig, app: ArgocdApplication, environment: string): Application {
  const gitops = config.release!.gitops;
  const source =
    app.source === 'oci'
      ? // Argo CD's native OCI source: the release image itself, at a fixed tag or digest; the pointer is not read.
        { repoURL: `oci://${config.registries.release}/${app.repository}/${app.project}`, targetRevision: app.targetRevision!, path: '.' }
      : { repoURL: gitops.url, targetRevision: gitops.branch, path: `environments/${environment}/${app.repository}/${app.project}`, plugin: { name: argocd.pluginName } };
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: applicationName(environment, app),
      namespace: argocd.namespace,
      labels: { ...standardLabels('argocd-application'), 'forge.dev/environment': environment, 'forge.dev/project': app.project },
    },
    spec: {
      project: argocd.appProject,
      source,
      destination: { server: IN_CLUSTER, namespace: applicationNamespace(app) },
      syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
    },
  };
}

/** Every Application of the config, environment by environment in the order of `release.environments`. */
export function applications(config: PlatformConfig, argocd: ArgocdConfig): Application[] {
  const environments = config.release!.environments;
  return Object.keys(environments).flatMap((env) =>
    argocd.applications.filter((app) => applicationEnvironments(app, environments).includes(env)).map((app) => application(config, argocd, app, env)),
  );
}

export class ArgocdChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig, argocd: ArgocdConfig) {
    super(scope, id, { namespace: argocd.namespace, disableResourceNameHashes: true });
    const ns = argocd.namespace;
    const labels = standardLabels('argocd-plugin');
    addTyped(this, new ConfigMap({ metadata: { name: `${argocd.pluginName}${PLUGIN_CONFIGMAP_SUFFIX}`, namespace: ns, labels }, data: { 'plugin.yaml': pluginYaml(config, argocd) } }));
    const publicKey = config.release!.releaseVerificationKey.publicKey;
    if (publicKey) {
      addTyped(this, new ConfigMap({ metadata: { name: `${argocd.pluginName}${KEY_CONFIGMAP_SUFFIX}`, namespace: ns, labels }, data: { [KEY_MOUNT.file]: `${publicKey.trim()}\n` } }));
    }
    for (const app of applications(config, argocd)) new ApiObject(this, `Application-${app.metadata.name}`, app);
  }
}

/** The repo server patch alone in its chart, so that its YAML file is the patch file. */
export class ArgocdRepoServerPatchChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig, argocd: ArgocdConfig) {
    super(scope, id, { namespace: argocd.namespace, disableResourceNameHashes: true });
    new ApiObject(this, 'repo-server-patch', repoServerPatch(config, argocd));
  }
}

/** Both Argo CD charts, when `release.argocd` is set. */
export function addArgocdCharts(app: App, config: PlatformConfig): void {
  const argocd = config.release?.argocd;
  if (!argocd) return;
  new ArgocdChart(app, 'argocd', config, argocd);
  new ArgocdRepoServerPatchChart(app, 'argocd-repo-server-patch', config, argocd);
}
