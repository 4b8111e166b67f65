import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { standardLabels } from '../constructs/labels.ts';
import { addTyped } from '../constructs/typed-object.ts';
import type { PlatformConfig } from '../platform-config.ts';

const add = addTyped;

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
    const { workflow, submitter, promotionSigner, signatureVerifier, annotations } = config.serviceAccounts;
    const withAnnotations = (a: Record<string, string>) => (Object.keys(a).length > 0 ? { annotations: a } : {});
    // The attest pod of verify-and-promote runs as its own account: the one a KMS signing
    // permission is granted to. Its executor reports task results like every workflow pod.
    // The verify pod runs as its own account too: the only one that may read verification keys.
    const signer = config.promotion ? [promotionSigner] : [];
    const verifier = config.promotion ? [signatureVerifier] : [];

    add(this, new ServiceAccount({ metadata: { name: workflow, namespace: ns, labels: standardLabels('rbac'), ...withAnnotations(annotations.workflow) } }));
    for (const name of signer) {
      add(this, new ServiceAccount({ metadata: { name, namespace: ns, labels: standardLabels('rbac'), ...withAnnotations(annotations.promotionSigner) } }));
    }
    for (const name of verifier) {
      add(this, new ServiceAccount({ metadata: { name, namespace: ns, labels: standardLabels('rbac'), ...withAnnotations(annotations.signatureVerifier) } }));
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
        subjects: [workflow, ...signer, ...verifier].map((name) => ({ kind: 'ServiceAccount', name, namespace: ns })),
      }),
    );

    // Verification keys kept in the cluster (`k8s://<namespace>/<name>`, public only) are read by
    // the verify step as the signature verifier: it may get exactly those objects, and no other
    // account may read them.
    const keyObjects = Object.values(config.promotion?.verificationKeys ?? {}).flatMap((k): ['secrets' | 'configmaps', string][] =>
      'secret' in k ? [['secrets', k.secret]] : 'configMap' in k ? [['configmaps', k.configMap]] : [],
    );
    const byNamespace = new Map<string, { secrets: string[]; configmaps: string[] }>();
    for (const [resource, uri] of keyObjects) {
      const [namespace, name] = uri.slice('k8s://'.length).split('/') as [string, string];
      const entry = byNamespace.get(namespace) ?? { secrets: [], configmaps: [] };
      entry[resource] = [...new Set([...entry[resource], name])].sort();
      byNamespace.set(namespace, entry);
    }
    for (const [keyNamespace, objects] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
      const name = `${signatureVerifier}-keys`;
      const rules = (['secrets', 'configmaps'] as const)
        .filter((resource) => objects[resource].length > 0)
        .map((resource) => ({ apiGroups: [''], resources: [resource], resourceNames: objects[resource], verbs: ['get'] }));
      add(this, new Role({ metadata: { name, namespace: keyNamespace, labels: standardLabels('rbac') }, rules }));
      add(
        this,
        new RoleBinding({
          metadata: { name, namespace: keyNamespace, labels: standardLabels('rbac') },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name: signatureVerifier, namespace: ns }],
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
