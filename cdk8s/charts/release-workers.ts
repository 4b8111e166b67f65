import YAML from 'yaml';
import type { PlatformConfig } from '../platform-config.ts';
import type { ReleaseSettings } from '../../steps/lib/release/settings.ts';
import type { PoolName } from '../../steps/lib/pool/pools.ts';
import { envName } from '../../steps/lib/contract.ts';

/**
 * What the artifact and release pools' workers get for releases (docs/releases.md): the release
 * settings file (a ConfigMap generated from the platform config), their own signing key (the
 * build key on the artifact pool, the release key on the release pool — never both), the
 * registry credentials, and on the release pool the GitOps credentials.
 */
export const RELEASE_SETTINGS_CONFIGMAP = 'forge-release-settings';
export const GITOPS_GITCONFIG_CONFIGMAP = 'forge-gitops-gitconfig';
const SETTINGS_DIR = '/etc/forge/release';
const BUILD_KEY_DIR = '/etc/forge/build-key';
const RELEASE_KEY_DIR = '/etc/forge/release-key';
const REGISTRY_AUTH_DIR = '/etc/forge/registry-auth';
const GITOPS_DIR = '/etc/forge/gitops';
const GITCONFIG_DIR = '/etc/forge/gitconfig';

/** The settings file, with the paths where each pool mounts its key. */
export function releaseSettings(config: PlatformConfig): ReleaseSettings | undefined {
  const r = config.release;
  if (!r) return undefined;
  const key = (dir: string, k: { secret: { key: string; passwordKey: string } }) => ({ key: `${dir}/${k.secret.key}`, passwordFile: `${dir}/${k.secret.passwordKey}` });
  return {
    registries: { incoming: config.registries.incoming, trusted: config.registries.trusted, tracking: config.registries.tracking, release: config.registries.release },
    buildKey: key(BUILD_KEY_DIR, r.buildSigningKey),
    releaseKey: key(RELEASE_KEY_DIR, r.releaseSigningKey),
    transparencyLog: config.promotion?.transparencyLog ?? false,
    gitops: { url: r.gitops.url, branch: r.gitops.branch, author: r.gitops.author },
    environments: r.environments,
    builder: `https://forge-workflows.dev/workers/${config.namespace}/artifact`,
    ...(r.baseImage ? { baseImage: r.baseImage } : {}),
  };
}

export function releaseSettingsData(config: PlatformConfig): Record<string, string> | undefined {
  const s = releaseSettings(config);
  return s && { 'settings.yaml': YAML.stringify(s) };
}

/** git reads the GitOps credentials from the mounted Secret's `.git-credentials`, through this gitconfig. */
export const gitconfigData = { gitconfig: `[credential]\n\thelper = store --file ${GITOPS_DIR}/.git-credentials\n` };

export interface WorkerParts {
  env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
  volumes: Record<string, unknown>[];
}

export function releaseWorkerParts(config: PlatformConfig, pool: PoolName): WorkerParts {
  const r = config.release;
  const parts: WorkerParts = { env: [], volumeMounts: [], volumes: [] };
  if (!r || (pool !== 'artifact' && pool !== 'release')) return parts;
  const mount = (name: string, mountPath: string, volume: Record<string, unknown>) => {
    parts.volumeMounts.push({ name, mountPath, readOnly: true });
    parts.volumes.push({ name, ...volume });
  };
  parts.env.push({ name: envName('release-settings'), value: `${SETTINGS_DIR}/settings.yaml` });
  mount('release-settings', SETTINGS_DIR, { configMap: { name: RELEASE_SETTINGS_CONFIGMAP } });
  const key = pool === 'artifact' ? r.buildSigningKey : r.releaseSigningKey;
  mount('signing-key', pool === 'artifact' ? BUILD_KEY_DIR : RELEASE_KEY_DIR, { secret: { secretName: key.secret.name, defaultMode: 0o440, items: [{ key: key.secret.key, path: key.secret.key }, { key: key.secret.passwordKey, path: key.secret.passwordKey }] } });
  const auth = config.registries.credentialsSecret;
  if (auth) {
    parts.env.push({ name: 'DOCKER_CONFIG', value: REGISTRY_AUTH_DIR });
    mount('registry-auth', REGISTRY_AUTH_DIR, { secret: { secretName: auth, defaultMode: 0o440, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } });
  }
  if (config.registries.insecure.length > 0) parts.env.push({ name: 'FORGE_INSECURE_REGISTRIES', value: config.registries.insecure.join(',') });
  if (pool === 'release' && r.gitops.credentialsSecret) {
    parts.env.push({ name: 'GIT_CONFIG_GLOBAL', value: `${GITCONFIG_DIR}/gitconfig` });
    mount('gitconfig', GITCONFIG_DIR, { configMap: { name: GITOPS_GITCONFIG_CONFIGMAP } });
    mount('gitops-credentials', GITOPS_DIR, { secret: { secretName: r.gitops.credentialsSecret, defaultMode: 0o440, items: [{ key: '.git-credentials', path: '.git-credentials' }] } });
  }
  // Release records, approvals and deployments (the release pool); the artifact pool records executions there too.
  parts.env.push({ name: envName('database-url'), valueFrom: { secretKeyRef: { name: r.database.secret.name, key: r.database.secret.key } } });
  return parts;
}
