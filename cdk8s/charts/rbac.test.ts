import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePlatformConfig } from '../platform-config.ts';
import { RbacChart } from './rbac.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, Record<string, unknown>>;

describe('RBAC chart', () => {
  it('gives the workflow account task results only, and never uses the default account', () => {
    const objects = new RbacChart(Testing.app(), 'rbac', parsePlatformConfig(example)).toJson() as { kind: string; metadata: { name: string }; rules?: unknown[] }[];
    expect(objects.some((o) => o.metadata.name === 'default')).toBe(false);
    const executor = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'forge-workflow-executor')!;
    expect(executor.rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }]);
  });

  it('lets cosign read exactly the verification-key secrets named as k8s://', () => {
    const config = parsePlatformConfig({
      ...example,
      promotion: { ...example.promotion, verificationKeys: { developers: { secret: 'k8s://keys/cosign-developers' }, release: { secret: 'k8s://keys/cosign-release' } } },
    });
    const objects = new RbacChart(Testing.app(), 'rbac', config).toJson() as { kind: string; metadata: { name: string; namespace: string }; rules?: unknown[]; subjects?: unknown[] }[];
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'keys')!;
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['cosign-developers', 'cosign-release'], verbs: ['get'] }]);
    const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'keys')!;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'forge-workflow', namespace: 'forge' }]);
  });
});
