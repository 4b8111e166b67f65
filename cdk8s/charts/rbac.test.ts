import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePlatformConfig } from '../platform-config.ts';
import { workflowTemplates } from '../../workflows/index.ts';
import { RbacChart } from './rbac.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, Record<string, unknown>>;

describe('RBAC chart', () => {
  it('gives the workflow account task results only, and never uses the default account', () => {
    const objects = new RbacChart(Testing.app(), 'rbac', parsePlatformConfig(example)).toJson() as { kind: string; metadata: { name: string }; rules?: unknown[] }[];
    expect(objects.some((o) => o.metadata.name === 'default')).toBe(false);
    const executor = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'forge-workflow-executor')!;
    expect(executor.rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }]);
  });

  it('lets the signature verifier alone read exactly the verification-key Secrets and ConfigMaps named as k8s://', () => {
    const config = parsePlatformConfig({
      ...example,
      promotion: {
        ...example.promotion,
        verificationKeys: {
          developers: { secret: 'k8s://keys/cosign-developers' },
          release: { secret: 'k8s://keys/cosign-release' },
          contractors: { configMap: 'k8s://keys/cosign-contractors' },
          other: { configMap: 'k8s://other-keys/cosign-other' },
        },
      },
    });
    type Obj = { kind: string; metadata: { name: string; namespace: string }; rules?: { resources: string[] }[]; subjects?: { name: string }[] };
    const objects = new RbacChart(Testing.app(), 'rbac', config).toJson() as Obj[];
    const roles = objects.filter((o) => o.kind === 'Role' && o.rules!.some((r) => r.resources.includes('secrets') || r.resources.includes('configmaps')));
    expect(roles.map((r) => [r.metadata.namespace, r.metadata.name, r.rules])).toEqual([
      ['keys', 'forge-signature-verifier-keys', [
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['cosign-developers', 'cosign-release'], verbs: ['get'] },
        { apiGroups: [''], resources: ['configmaps'], resourceNames: ['cosign-contractors'], verbs: ['get'] },
      ]],
      ['other-keys', 'forge-signature-verifier-keys', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['cosign-other'], verbs: ['get'] }]],
    ]);
    // Only the verifier is bound to them: the workflow and signer accounts cannot read a key.
    const keyBindings = objects.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'forge-signature-verifier-keys');
    expect(keyBindings.map((b) => b.subjects)).toEqual([
      [{ kind: 'ServiceAccount', name: 'forge-signature-verifier', namespace: 'forge' }],
      [{ kind: 'ServiceAccount', name: 'forge-signature-verifier', namespace: 'forge' }],
    ]);
    const readers = objects.filter((o) => o.kind === 'RoleBinding').filter((b) => roles.some((r) => r.metadata.name === b.metadata.name));
    expect(new Set(readers.flatMap((b) => b.subjects!.map((s) => s.name)))).toEqual(new Set(['forge-signature-verifier']));
  });

  it('runs the attest pod as its own account, with the cloud identity annotations given for each', () => {
    const gke = 'iam.gke.io/gcp-service-account';
    const config = parsePlatformConfig({
      ...example,
      serviceAccounts: {
        annotations: {
          workflow: { [gke]: 'forge-verify@p.iam.gserviceaccount.com' },
          promotionSigner: { [gke]: 'forge-signer@p.iam.gserviceaccount.com', 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/signer' },
        },
      },
    });
    type Obj = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; subjects?: { name: string }[] };
    const objects = new RbacChart(Testing.app(), 'rbac', config).toJson() as Obj[];
    const account = (name: string) => objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === name);
    expect(account('forge-workflow')!.metadata.annotations).toEqual({ [gke]: 'forge-verify@p.iam.gserviceaccount.com' });
    expect(account('forge-promotion-signer')!.metadata.annotations).toEqual({ [gke]: 'forge-signer@p.iam.gserviceaccount.com', 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/signer' });
    expect(account('forge-submitter')!.metadata.annotations).toBeUndefined();
    // the signer's executor reports task results like every workflow pod, and may do nothing else
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' && o.subjects?.some((x) => x.name === 'forge-promotion-signer'));
    expect(bindings.map((b) => b.metadata.name)).toEqual(['forge-workflow-executor']);

    const attest = (workflowTemplates(config).find((t) => t.metadata.name === 'forge-verify-and-promote')!.spec.templates ?? []).find((t) => t.name === 'attest')!;
    expect(attest.serviceAccountName).toBe('forge-promotion-signer');
  });

  it('creates no signer account without verify-and-promote', () => {
    const { promotion: _, admission: __, ...rest } = example;
    const objects = new RbacChart(Testing.app(), 'rbac', parsePlatformConfig(rest)).toJson() as { kind: string; metadata: { name: string } }[];
    expect(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name).sort()).toEqual(['forge-submitter', 'forge-workflow']);
  });

  it('lets the submitter create and watch Workflows, but never create or edit WorkflowTemplates (or anything that runs a pod)', () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
    type Obj = { kind: string; metadata: { name: string; labels?: Record<string, string> }; rules?: Rule[]; roleRef?: { kind: string; name: string }; subjects?: { name: string }[] };
    const objects = new RbacChart(Testing.app(), 'rbac', parsePlatformConfig(example)).toJson() as Obj[];
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'forge-submitter')!;
    /** Every (group, resource, verb) the role grants. */
    const grants = new Set(role.rules!.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))));
    expect([...grants].sort()).toEqual(
      [
        'argoproj.io/workflows:create',
        'argoproj.io/workflows:get',
        'argoproj.io/workflows:list',
        'argoproj.io/workflows:watch',
        'argoproj.io/workflowtemplates:get',
        'argoproj.io/workflowtemplates:list',
        '/pods:get',
        '/pods:list',
        '/pods/log:get',
      ].sort(),
    );
    for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection', '*']) {
      for (const resource of ['workflowtemplates', 'clusterworkflowtemplates', 'cronworkflows', '*']) expect(grants.has(`argoproj.io/${resource}:${verb}`), `${resource}:${verb}`).toBe(false);
      for (const resource of ['pods', 'pods/exec', 'pods/ephemeralcontainers', 'secrets', 'serviceaccounts', 'serviceaccounts/token']) expect(grants.has(`/${resource}:${verb}`), `${resource}:${verb}`).toBe(false);
    }
    // A Workflow is not edited after creation (an update could change what the controller runs).
    for (const verb of ['update', 'patch']) expect(grants.has(`argoproj.io/workflows:${verb}`)).toBe(false);
    // No wildcard anywhere, and nothing aggregates our roles into the built-in edit/admin roles.
    for (const r of role.rules!) for (const x of [...r.apiGroups, ...r.resources, ...r.verbs]) expect(x).not.toBe('*');
    for (const o of objects) expect(Object.keys(o.metadata.labels ?? {}).filter((l) => l.startsWith('rbac.authorization.k8s.io/aggregate-to-'))).toEqual([]);
    // The submitter is bound to its own Role only: not to a ClusterRole such as edit or admin.
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' && o.subjects?.some((x) => x.name === 'forge-submitter'));
    expect(bindings.map((b) => b.roleRef)).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'forge-submitter' }]);
    expect(objects.filter((o) => /Cluster/.test(o.kind))).toEqual([]);
  });

  it.each([
    ['an annotation name with a space', { annotations: { workflow: { 'iam.gke.io/gcp service account': 'x' } } }, 'serviceAccounts.annotations.workflow'],
    ['the signer sharing the workflow account', { promotionSigner: 'forge-workflow' }, 'serviceAccounts'],
  ])('rejects %s, naming the field', (_what, serviceAccounts, field) => {
    expect(() => parsePlatformConfig({ ...example, serviceAccounts }, 'platform.yaml')).toThrow(
      expect.objectContaining({ details: expect.arrayContaining([expect.objectContaining({ field: expect.stringContaining(field) })]) }),
    );
  });
});
