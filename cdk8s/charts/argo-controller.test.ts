import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { parsePlatformConfig } from '../platform-config.ts';
import { ArgoControllerChart, controllerSettings } from './argo-controller.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>;

describe('Argo controller settings', () => {
  it('runs the controller with templateReferencing: Secure', () => {
    const data = controllerSettings(parsePlatformConfig(example));
    expect(parse(data.workflowRestrictions!)).toEqual({ templateReferencing: 'Secure' });
  });

  it("hardens Argo's init and wait containers like the steps, with requests and limits", () => {
    const config = parsePlatformConfig({ ...example, steps: { runAsUser: 4242 } });
    const executor = parse(controllerSettings(config).executor!) as { resources: unknown; securityContext: Record<string, unknown> };
    expect(executor.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
    expect(executor.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 4242,
      runAsGroup: 4242,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it("is the controller's ConfigMap in the controller's namespace, under the configured names", () => {
    const config = parsePlatformConfig({ ...example, argo: { controllerNamespace: 'argo-system', controllerConfigMap: 'argo-config', executorResources: { requests: { cpu: '5m', memory: '32Mi' }, limits: { cpu: '1', memory: '1Gi' } } } });
    const [cm, ...rest] = new ArgoControllerChart(Testing.app(), 'argo-controller', config).toJson() as { kind: string; metadata: { name: string; namespace: string }; data: Record<string, string> }[];
    expect(rest).toEqual([]);
    expect(cm!.kind).toBe('ConfigMap');
    expect(cm!.metadata).toMatchObject({ name: 'argo-config', namespace: 'argo-system' });
    expect(Object.keys(cm!.data).sort()).toEqual(['executor', 'workflowRestrictions']);
    expect(parse(cm!.data.executor!)).toMatchObject({ resources: { requests: { cpu: '5m', memory: '32Mi' }, limits: { cpu: '1', memory: '1Gi' } } });
  });

  it('is synthesized as argo-controller.yaml by default, with Argo’s default names', () => {
    const { argo: _, ...withoutSection } = example;
    const app = buildApp(parsePlatformConfig(withoutSection), '/nonexistent');
    const chart = app.charts.find((c) => c.node.id === 'argo-controller');
    expect(chart).toBeDefined();
    const [cm] = chart!.toJson() as { metadata: { name: string; namespace: string } }[];
    expect(cm!.metadata).toMatchObject({ name: 'workflow-controller-configmap', namespace: 'argo' });
  });

  it.each([
    ['a controller namespace that is not a DNS label', { controllerNamespace: 'Argo_System' }, 'argo.controllerNamespace'],
    ['an executor limit that is not a quantity', { executorResources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: 'lots', memory: '1Gi' } } }, 'argo.executorResources.limits.cpu'],
    ['an unknown key', { templateReferencing: 'Strict' }, 'argo'],
  ])('rejects %s, naming the field', (_what, argo, field) => {
    expect(() => parsePlatformConfig({ ...example, argo }, 'platform.yaml')).toThrow(
      expect.objectContaining({ details: expect.arrayContaining([expect.objectContaining({ field })]) }),
    );
  });
});
