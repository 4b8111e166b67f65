import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdk8s';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePlatformConfig, type PlatformConfig } from '../platform-config.ts';
import { thrown } from '../../test/helpers/forge-error.ts';
import { crdValidator, readYaml, upstreamFile } from '../../test/helpers/upstream-files.ts';
import { buildApp } from '../app.ts';
import { ArgocdChart, ArgocdRepoServerPatchChart } from './argocd.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, any>; data?: Record<string, string> }; // eslint-disable-line @typescript-eslint/no-explicit-any
const withArgocd = (argocd: Record<string, unknown>, release: Record<string, unknown> = {}) =>
  parsePlatformConfig({ ...example, release: { ...example.release, ...release, argocd: { ...example.release.argocd, ...argocd } } });
const charts = (config: PlatformConfig) => {
  const app = Testing.app();
  const argocd = config.release!.argocd!;
  return {
    objects: new ArgocdChart(app, 'argocd', config, argocd).toJson() as Obj[],
    patch: (new ArgocdRepoServerPatchChart(app, 'patch', config, argocd).toJson() as Obj[])[0]!,
  };
};
const refusal = (argocd: Record<string, unknown>, release?: Record<string, unknown>) => thrown(() => withArgocd(argocd, release)).format();

describe('Argo CD charts', () => {
  const config = parsePlatformConfig(example);
  const { objects, patch } = charts(config);
  const applications = objects.filter((o) => o.kind === 'Application');

  it('registers the plugin (CMP v2) with the release registry, the mounted key and an explicit transparency-log flag', () => {
    const plugin = parse(objects.find((o) => o.metadata.name === 'forge-release-plugin')!.data!['plugin.yaml']!);
    expect(plugin).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ConfigManagementPlugin',
      metadata: { name: 'forge-release' },
      spec: {
        discover: { find: { command: ['forge', 'cmp', 'discover'] } },
        generate: { command: ['forge', 'cmp', 'generate'], args: ['--release-registry', 'trusted.registry.example.com/forge-releases', '--key', '/home/argocd/forge/key/cosign.pub', '--transparency-log', 'false'] },
      },
    });
    const key = objects.find((o) => o.metadata.name === 'forge-release-verification-key')!;
    expect(key.data!['cosign.pub']).toBe(`${example.release.releaseVerificationKey.publicKey.trim()}\n`);
    expect(objects.every((o) => o.metadata.namespace === 'argocd')).toBe(true);
  });

  it('a KMS key passes as is (no key ConfigMap) and a logged signature is said so', () => {
    const kms = 'gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/release';
    const { objects, patch } = charts(withArgocd({ transparencyLog: true }, { releaseVerificationKey: { kms } }));
    const args = parse(objects.find((o) => o.metadata.name === 'forge-release-plugin')!.data!['plugin.yaml']!).spec.generate.args;
    expect(args).toEqual(['--release-registry', 'trusted.registry.example.com/forge-releases', '--key', kms, '--transparency-log', 'true']);
    expect(objects.find((o) => o.metadata.name === 'forge-release-verification-key')).toBeUndefined();
    expect(patch.spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('forge-release-key');
  });

  it('one Application per environment and application: names, paths, plugin or native OCI, in-cluster destination, automated sync', () => {
    expect(applications.map((a) => a.metadata.name)).toEqual(['dev-example-monorepo-api', 'dev-example-monorepo-worker', 'staging-example-monorepo-api', 'production-example-monorepo-api']);
    const prod = applications.find((a) => a.metadata.name === 'production-example-monorepo-api')!;
    expect(prod.spec).toEqual({
      project: 'default',
      source: { repoURL: 'https://git.example.com/platform/gitops.git', targetRevision: 'main', path: 'environments/production/example/monorepo/api', plugin: { name: 'forge-release' } },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'example-monorepo-api' },
      syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
    });
    const oci = applications.find((a) => a.metadata.name === 'dev-example-monorepo-worker')!;
    expect(oci.spec.source).toEqual({ repoURL: 'oci://trusted.registry.example.com/forge-releases/example/monorepo/worker', targetRevision: '1', path: '.' });
    const own = charts(withArgocd({ applications: [{ repository: 'example/monorepo', project: 'api', environments: ['staging'], namespace: 'api' }] })).objects.filter((o) => o.kind === 'Application');
    expect(own.map((a) => [a.metadata.name, a.spec.destination.namespace])).toEqual([['staging-example-monorepo-api', 'api']]);
  });

  it("every Application passes Argo CD's own Application CRD schema (unknown fields refused, as kubectl apply does)", () => {
    const validate = crdValidator(upstreamFile('argocd', 'manifests/crds/application-crd.yaml'), 'v1alpha1');
    for (const a of applications) expect(validate(a), a.metadata.name).toEqual([]);
    // The check can fail: a misspelled field and a wrong type are refused.
    const bad = structuredClone(applications[0]!);
    bad.spec.source.plugn = bad.spec.source.plugin;
    bad.spec.syncPolicy.syncOptions = 'CreateNamespace=true';
    expect(validate(bad)).toEqual(expect.arrayContaining([expect.stringContaining('/spec/source: must NOT have additional properties {"additionalProperty":"plugn"}'), expect.stringContaining('/spec/syncPolicy/syncOptions: must be array')]));
  });

  it('patches the sidecar in: the CMP server, user 999, read-only root, its own /tmp, no privilege, seccomp, requests and limits', () => {
    expect(patch).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'argocd-repo-server', namespace: 'argocd' } });
    const [c] = patch.spec.template.spec.containers;
    expect(c.command).toEqual(['/var/run/argocd/argocd-cmp-server']);
    expect(c.image).toBe('registry.example.com/forge/steps:0.1.0');
    expect(c.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } });
    const mounts = Object.fromEntries(c.volumeMounts.map((m: { mountPath: string; name: string }) => [m.mountPath, m]));
    expect(mounts['/home/argocd/cmp-server/config/plugin.yaml']).toEqual({ name: 'forge-release-config', mountPath: '/home/argocd/cmp-server/config/plugin.yaml', subPath: 'plugin.yaml', readOnly: true });
    expect(mounts['/tmp'].name).toBe('forge-release-tmp');
    const volumes = Object.fromEntries(patch.spec.template.spec.volumes.map((v: { name: string }) => [v.name, v]));
    expect(volumes['forge-release-tmp']).toEqual({ name: 'forge-release-tmp', emptyDir: {} });
    expect(volumes['forge-release-config'].configMap.name).toBe('forge-release-plugin');
    expect(c.env).toContainEqual({ name: 'DOCKER_CONFIG', value: '/home/argocd/forge/registry-auth' });
    expect(volumes['forge-release-registry-auth'].secret).toEqual({ secretName: 'forge-release-registry', items: [{ key: '.dockerconfigjson', path: 'config.json' }] });
  });

  it("merged into Argo CD's own repo-server Deployment, the patch gives a valid Deployment whose sidecar shares var-files and plugins", () => {
    const upstream = readYaml(upstreamFile('argocd', 'manifests/base/repo-server/argocd-repo-server-deployment.yaml'));
    const pod = upstream.spec.template.spec;
    // Strategic merge: containers and volumes merge by name (their patchMergeKey).
    const byName = <T extends { name: string }>(base: T[], add: T[]) => [...base.filter((b) => !add.some((a) => a.name === b.name)), ...add];
    const merged = structuredClone(upstream);
    merged.spec.template.spec.containers = byName(pod.containers, patch.spec.template.spec.containers);
    merged.spec.template.spec.volumes = byName(pod.volumes, patch.spec.template.spec.volumes);
    expect(() => new Deployment(merged).validate()).not.toThrow();
    expect(merged.metadata.name).toBe(patch.metadata.name);
    const volumeNames = new Set(merged.spec.template.spec.volumes.map((v: { name: string }) => v.name));
    const sidecar = merged.spec.template.spec.containers.find((c: { name: string }) => c.name === 'forge-release');
    for (const m of sidecar.volumeMounts) expect(volumeNames.has(m.name), m.name).toBe(true);
    // The repo server reaches the plugin's socket where the sidecar's CMP server puts it, and runs as the same user.
    const repo = pod.containers.find((c: { name: string }) => c.name === 'argocd-repo-server');
    const at = (c: { volumeMounts: { name: string; mountPath: string }[] }, name: string) => c.volumeMounts.find((m) => m.name === name)?.mountPath;
    expect(at(repo, 'plugins')).toBe(at(sidecar, 'plugins'));
    expect(pod.initContainers.some((c: { volumeMounts: { name: string; mountPath: string }[] }) => at(c, 'var-files') === at(sidecar, 'var-files'))).toBe(true);
    expect(sidecar.securityContext.runAsUser).toBe(999);
    expect(pod.volumes.find((v: { name: string }) => v.name === 'var-files')).toBeDefined();
  });

  it('is generated only when release.argocd is set', () => {
    const ids = (c: PlatformConfig) => buildApp(c, '/nonexistent').charts.map((chart) => chart.node.id).filter((id) => id.startsWith('argocd'));
    expect(ids(config)).toEqual(['argocd', 'argocd-repo-server-patch']);
    const { argocd: _argocd, ...release } = example.release;
    expect(ids(parsePlatformConfig({ ...example, release }))).toEqual([]);
  });

  it('refuses an environment that is not in release.environments, naming it', () => {
    const message = refusal({ applications: [{ repository: 'example/monorepo', project: 'api', environments: ['dev', 'qa'] }] });
    expect(message).toContain('release.argocd.applications.0.environments.1: environment "qa" of example/monorepo/api is not in release.environments (dev, staging, production)');
  });

  it('refuses an Application name over 63 characters, a default namespace that is no DNS label, duplicates, and OCI without a revision', () => {
    const long = `team/${'a'.repeat(44)}`;
    expect(refusal({ applications: [{ repository: long, project: 'api', namespace: 'api' }] })).toContain(
      `release.argocd.applications.0.repository: the Application name "production-team-${'a'.repeat(44)}-api" (<environment>-<repository>-<project>) is not a DNS label of at most 63 characters (64)`,
    );
    expect(refusal({ applications: [{ repository: 'example/my_repo', project: 'api', environments: ['dev'] }] })).toContain('release.argocd.applications.0.namespace: the default namespace "example-my_repo-api"');
    expect(refusal({ applications: [{ repository: 'a/b', project: 'c' }, { repository: 'a-b', project: 'c', environments: ['dev'] }] })).toContain('release.argocd.applications.1: the Application "dev-a-b-c" is also generated by release.argocd.applications.0');
    expect(refusal({ applications: [{ repository: 'a/b', project: 'c', source: 'oci' }] })).toContain('release.argocd.applications.0.targetRevision: a/b/c uses the native OCI source: set targetRevision');
    expect(refusal({ applications: [{ repository: 'a/b', project: 'c', targetRevision: '1' }] })).toContain('targetRevision is for source: oci only');
    expect(refusal({ pluginName: 'Forge' })).toContain('release.argocd.pluginName: must be a DNS label');
    expect(refusal({ applications: [{ repository: 'a/b', project: 'c', environments: ['dev', 'dev'] }] })).toContain('release.argocd.applications.0.environments: names an environment twice');
  });
});
