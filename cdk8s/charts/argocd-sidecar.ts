import { stringify } from 'yaml';
import { Container, type IContainer } from 'kubernetes-models/v1/Container';
import { Volume, type IVolume } from 'kubernetes-models/v1/Volume';
import { restrictedContainer } from '../constructs/security-context.ts';
import { imageReference, type PlatformConfig } from '../platform-config.ts';
import type { ArgocdConfig } from '../platform-config-argocd.ts';

/**
 * The forge Config Management Plugin (v2) as Argo CD runs it: its `plugin.yaml` and the sidecar
 * container patched into the repo server (docs/argocd.md). Argo CD's repo server shares the CMP
 * server binary (`var-files`, /var/run/argocd) and the plugin sockets (`plugins`) with every
 * sidecar; the sidecar runs as user 999 like the repo server, with its own /tmp.
 */

/** The user Argo CD's CMP sidecars must run as (the repo server's; they share the socket directory). */
export const CMP_UID = 999;
export const PLUGIN_CONFIGMAP_SUFFIX = '-plugin';
export const KEY_CONFIGMAP_SUFFIX = '-verification-key';
const KEY_DIR = '/home/argocd/forge/key';
const KEY_FILE = 'cosign.pub';
const REGISTRY_AUTH_DIR = '/home/argocd/forge/registry-auth';

type Release = NonNullable<PlatformConfig['release']>;

/** What `--key` of `forge cmp generate` is: the mounted PEM file, or the KMS URI as is. */
export function verificationKeyArgument(release: Release): string {
  const key = release.releaseVerificationKey;
  return key.kms ?? `${KEY_DIR}/${KEY_FILE}`;
}

/** The plugin's `plugin.yaml` (a ConfigManagementPlugin: not a Kubernetes object, read by the CMP server). */
export function pluginYaml(config: PlatformConfig, argocd: ArgocdConfig): string {
  const release = config.release!;
  const plugin = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ConfigManagementPlugin',
    // No spec.version: with one, Argo CD would name the plugin `<name>-<version>`.
    metadata: { name: argocd.pluginName },
    spec: {
      // A directory is ours when `forge cmp discover` finds a ReleasePointer in its release.yaml
      // (it prints the file name, which is what a match is; exits 0 either way).
      discover: { find: { command: ['forge', 'cmp', 'discover'] } },
      generate: {
        command: ['forge', 'cmp', 'generate'],
        args: ['--release-registry', config.registries.release, '--key', verificationKeyArgument(release), '--transparency-log', String(argocd.transparencyLog)],
      },
    },
  };
  return stringify(plugin, { lineWidth: 0 });
}

/** The sidecar container and the volumes it needs beyond the repo server's own `var-files` and `plugins`. */
export function sidecar(config: PlatformConfig, argocd: ArgocdConfig): { container: IContainer; volumes: IVolume[] } {
  const release = config.release!;
  const name = argocd.pluginName;
  const auth = argocd.registryCredentialsSecret;
  const volumes: IVolume[] = [
    { name: `${name}-config`, configMap: { name: `${name}${PLUGIN_CONFIGMAP_SUFFIX}` } },
    { name: `${name}-tmp`, emptyDir: {} },
    ...(release.releaseVerificationKey.publicKey ? [{ name: `${name}-key`, configMap: { name: `${name}${KEY_CONFIGMAP_SUFFIX}` } }] : []),
    ...(auth ? [{ name: `${name}-registry-auth`, secret: { secretName: auth, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } }] : []),
  ];
  const env = [
    { name: 'HOME', value: '/tmp' },
    ...(auth ? [{ name: 'DOCKER_CONFIG', value: REGISTRY_AUTH_DIR }] : []),
    ...(config.registries.insecure.length > 0 ? [{ name: 'FORGE_INSECURE_REGISTRIES', value: config.registries.insecure.join(',') }] : []),
  ];
  const container: IContainer = {
    name,
    image: imageReference(config.images.steps),
    imagePullPolicy: config.imagePullPolicy,
    // The lightweight CMP server the repo server's init container copies into var-files.
    command: ['/var/run/argocd/argocd-cmp-server'],
    env,
    resources: argocd.resources,
    securityContext: restrictedContainer(CMP_UID),
    volumeMounts: [
      { name: 'var-files', mountPath: '/var/run/argocd' },
      { name: 'plugins', mountPath: '/home/argocd/cmp-server/plugins' },
      { name: `${name}-config`, mountPath: '/home/argocd/cmp-server/config/plugin.yaml', subPath: 'plugin.yaml', readOnly: true },
      // Its own /tmp: never the repo server's (path traversal across plugins and repositories).
      { name: `${name}-tmp`, mountPath: '/tmp' },
      ...(release.releaseVerificationKey.publicKey ? [{ name: `${name}-key`, mountPath: KEY_DIR, readOnly: true }] : []),
      ...(auth ? [{ name: `${name}-registry-auth`, mountPath: REGISTRY_AUTH_DIR, readOnly: true }] : []),
    ],
  };
  new Container(container).validate();
  for (const v of volumes) new Volume(v).validate();
  return { container, volumes };
}

/** The strategic-merge patch of the repo server's Deployment: containers and volumes merge by name. */
export function repoServerPatch(config: PlatformConfig, argocd: ArgocdConfig) {
  const { container, volumes } = sidecar(config, argocd);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: argocd.repoServerDeployment, namespace: argocd.namespace },
    spec: { template: { spec: { containers: [container], volumes } } },
  };
}

export const KEY_MOUNT = { dir: KEY_DIR, file: KEY_FILE };
