import { z } from 'zod';
import { pointerInputSchema } from '../steps/lib/release/pointer.ts';
import { dnsLabel, resources } from './platform-config-primitives.ts';

/**
 * The `release.argocd` part of the platform configuration (docs/argocd.md): the forge Config
 * Management Plugin as a sidecar of Argo CD's repo server, and one Argo CD Application per
 * (environment, application) that deploys what the GitOps pointers name. Without it no Argo CD
 * manifests are generated (cdk8s/charts/argocd.ts).
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const argocdApplicationSchema = z.strictObject({
  /** The repository as releases name it (`org/repo`): the pointer path's and the Release OCI image's. */
  repository: pointerInputSchema.shape.repository,
  /** The forge project in that repository. */
  project: pointerInputSchema.shape.project,
  /** The environments it is deployed to (names from `release.environments`); default: all of them. */
  environments: z.array(z.string().min(1)).min(1).refine((e) => new Set(e).size === e.length, 'names an environment twice').optional(),
  /**
   * `plugin`: the forge plugin reads the GitOps pointer, verifies the Release OCI image's signature
   * and renders it. `oci`: Argo CD's native OCI source (≥ 3.1) reads the image at `targetRevision`
   * itself — no pointer, no signature check.
   */
  source: z.enum(['plugin', 'oci']).default('plugin'),
  /** With `source: oci` only, and required there: the Release OCI image's tag or digest to deploy. */
  targetRevision: z.string().regex(/^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64})$/, 'must be an image tag or a sha256: digest').optional(),
  /** Destination namespace; default `<repository with "/" as "-">-<project>`. */
  namespace: dnsLabel.optional(),
});
export type ArgocdApplication = z.infer<typeof argocdApplicationSchema>;

export const argocdSchema = z.strictObject({
  /** The namespace Argo CD runs in (its repo server, its Applications). */
  namespace: dnsLabel.default('argocd'),
  /** The plugin's name in `plugin.yaml` and in each Application's `source.plugin.name`. */
  pluginName: dnsLabel.default('forge-release'),
  /** The Argo CD AppProject the Applications belong to. */
  appProject: dnsLabel.default('default'),
  /** Name of the Deployment the sidecar is patched into. */
  repoServerDeployment: dnsLabel.default('argocd-repo-server'),
  /** Requests and limits of the sidecar. */
  resources: resources.default({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } }),
  /**
   * A `kubernetes.io/dockerconfigjson` Secret in Argo CD's namespace with credentials for the
   * release registry; without it the sidecar pulls anonymously.
   */
  registryCredentialsSecret: dnsLabel.optional(),
  /** Whether release signatures are in a Rekor transparency log (passed to `forge cmp generate` explicitly). */
  transparencyLog: z.boolean().default(false),
  /** The Applications generated: one per (environment, entry). */
  applications: z.array(argocdApplicationSchema).default([]),
});
export type ArgocdConfig = z.infer<typeof argocdSchema>;

/** The default destination namespace of an application. */
export const applicationNamespace = (a: Pick<ArgocdApplication, 'repository' | 'project' | 'namespace'>) =>
  a.namespace ?? `${a.repository.replaceAll('/', '-')}-${a.project}`;

/** The Argo CD Application name of an application in an environment. */
export const applicationName = (environment: string, a: Pick<ArgocdApplication, 'repository' | 'project'>) =>
  `${environment}-${a.repository.replaceAll('/', '-')}-${a.project}`;

/** The environments an application is deployed to. */
export const applicationEnvironments = (a: Pick<ArgocdApplication, 'environments'>, environments: Record<string, unknown>) =>
  a.environments ?? Object.keys(environments);

/**
 * Checks of `release.argocd` against the rest of the release section: every environment named is
 * one of `release.environments`, and every generated name (Application, namespace) is a DNS label
 * of at most 63 characters and unique. Run as a refinement of the release section.
 */
export function checkArgocd(release: { environments: Record<string, unknown>; argocd?: ArgocdConfig }, ctx: z.RefinementCtx): void {
  if (!release.argocd) return;
  const known = Object.keys(release.environments);
  const names = new Map<string, number>();
  release.argocd.applications.forEach((app, i) => {
    const at = ['argocd', 'applications', i];
    const where = `${app.repository}/${app.project}`;
    (app.environments ?? []).forEach((env, j) => {
      if (!known.includes(env)) {
        ctx.addIssue({ code: 'custom', path: [...at, 'environments', j], message: `environment "${env}" of ${where} is not in release.environments (${known.join(', ') || 'none'})` });
      }
    });
    if (app.source === 'oci' && !app.targetRevision) {
      ctx.addIssue({ code: 'custom', path: [...at, 'targetRevision'], message: `${where} uses the native OCI source: set targetRevision (the release image's tag or digest; native OCI cannot follow the GitOps pointer)` });
    }
    if (app.source === 'plugin' && app.targetRevision) {
      ctx.addIssue({ code: 'custom', path: [...at, 'targetRevision'], message: `${where} uses the forge plugin, which deploys what the GitOps pointer names: targetRevision is for source: oci only` });
    }
    const namespace = applicationNamespace(app);
    if (!app.namespace && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
      ctx.addIssue({ code: 'custom', path: [...at, 'namespace'], message: `the default namespace "${namespace}" of ${where} is not a DNS label of at most 63 characters: set namespace` });
    }
    for (const env of applicationEnvironments(app, release.environments)) {
      const name = applicationName(env, app);
      if (name.length > 63 || !DNS_LABEL.test(name)) {
        ctx.addIssue({ code: 'custom', path: [...at, 'repository'], message: `the Application name "${name}" (<environment>-<repository>-<project>) is not a DNS label of at most 63 characters (${name.length})` });
      } else if (names.has(name)) {
        ctx.addIssue({ code: 'custom', path: at, message: `the Application "${name}" is also generated by release.argocd.applications.${names.get(name)}` });
      } else names.set(name, i);
    }
  });
}
