import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { standardLabels } from '../constructs/labels.ts';
import type { PlatformConfig } from '../platform-config.ts';

type Model = { toJSON(): unknown; validate(): void; metadata?: { name?: string } };

/** [namespace, name] pairs → namespace → sorted unique names. */
function groupBy(pairs: [string, string][]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [namespace, name] of pairs) out.set(namespace, [...new Set([...(out.get(namespace) ?? []), name])].sort());
  return out;
}

function add(scope: Construct, model: Model): ApiObject {
  model.validate();
  const json = model.toJSON() as ConstructorParameters<typeof ApiObject>[2];
  return new ApiObject(scope, `${json.kind}-${json.metadata?.namespace}-${json.metadata?.name}`, json);
}

/**
 * Least-privilege identities: the workflow pods' account may only report its own task results
 * (what Argo's emissary executor needs); the submitter account (GitHub Actions, the forge CLI)
 * may create and watch workflows from the templates, and read their logs, nothing else. Neither
 * is the namespace's `default` account.
 */
export class RbacChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { namespace: config.namespace, disableResourceNameHashes: true });
    const ns = config.namespace;
    const { workflow, submitter, promotionSigner, annotations } = config.serviceAccounts;
    const withAnnotations = (a: Record<string, string>) => (Object.keys(a).length > 0 ? { annotations: a } : {});
    // The attest pod of verify-and-promote runs as its own account: the one a KMS signing
    // permission is granted to. Its executor reports task results like every workflow pod.
    const signer = config.promotion ? [promotionSigner] : [];

    add(this, new ServiceAccount({ metadata: { name: workflow, namespace: ns, labels: standardLabels('rbac'), ...withAnnotations(annotations.workflow) } }));
    for (const name of signer) {
      add(this, new ServiceAccount({ metadata: { name, namespace: ns, labels: standardLabels('rbac'), ...withAnnotations(annotations.promotionSigner) } }));
    }
    add(
      this,
      new Role({
        metadata: { name: `${workflow}-executor`, namespace: ns, labels: standardLabels('rbac') },
        rules: [{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }],
      }),
    );
    add(
      this,
      new RoleBinding({
        metadata: { name: `${workflow}-executor`, namespace: ns, labels: standardLabels('rbac') },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${workflow}-executor` },
        subjects: [workflow, ...signer].map((name) => ({ kind: 'ServiceAccount', name, namespace: ns })),
      }),
    );

    // Verification keys kept in Kubernetes Secrets (`k8s://<namespace>/<name>`) are read by cosign
    // itself: the workflow account may get exactly those secrets, nothing else.
    const keySecrets = Object.values(config.promotion?.verificationKeys ?? {})
      .flatMap((k) => ('secret' in k ? [k.secret.slice('k8s://'.length).split('/') as [string, string]] : []));
    for (const [secretNamespace, names] of groupBy(keySecrets)) {
      const name = `${workflow}-verification-keys`;
      add(
        this,
        new Role({
          metadata: { name, namespace: secretNamespace, labels: standardLabels('rbac') },
          rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: names, verbs: ['get'] }],
        }),
      );
      add(
        this,
        new RoleBinding({
          metadata: { name, namespace: secretNamespace, labels: standardLabels('rbac') },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name: workflow, namespace: ns }],
        }),
      );
    }

    add(this, new ServiceAccount({ metadata: { name: submitter, namespace: ns, labels: standardLabels('rbac') }, automountServiceAccountToken: false }));
    add(
      this,
      new Role({
        metadata: { name: `${submitter}`, namespace: ns, labels: standardLabels('rbac') },
        rules: [
          { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['create', 'get', 'list', 'watch'] },
          { apiGroups: ['argoproj.io'], resources: ['workflowtemplates'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
        ],
      }),
    );
    add(
      this,
      new RoleBinding({
        metadata: { name: `${submitter}`, namespace: ns, labels: standardLabels('rbac') },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: submitter },
        subjects: [{ kind: 'ServiceAccount', name: submitter, namespace: ns }],
      }),
    );
  }
}
