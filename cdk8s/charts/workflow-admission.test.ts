import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { parsePlatformConfig, type PlatformConfig } from '../platform-config.ts';
import {
  ARTIFACT_GC_ALLOWED_FIELDS,
  libraryTemplateNames,
  WORKFLOW_ALLOWED_FIELDS,
  workflowAdmissionObjects,
  type WorkflowClusterPolicy,
  type WorkflowValidatingPolicy,
} from './workflow-admission.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>;

function config(workflowAdmission: Record<string, unknown> | undefined, patch: Record<string, unknown> = {}): PlatformConfig {
  return parsePlatformConfig({ ...example, ...patch, argo: { workflowAdmission } }, 'platform.yaml');
}

/** The names in a CEL list literal of plain quoted names: `['a', 'b']`. */
function celNames(expression: string): string[] {
  expect(expression).toMatch(/^\[('[A-Za-z0-9-]+'(, )?)*\]$/);
  return [...expression.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

function vpol(c: PlatformConfig): WorkflowValidatingPolicy {
  const objects = workflowAdmissionObjects(c);
  expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual(['policies.kyverno.io/v1 ValidatingPolicy']);
  return objects[0] as WorkflowValidatingPolicy;
}

function cpol(c: PlatformConfig): WorkflowClusterPolicy {
  const objects = workflowAdmissionObjects(c);
  expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual(['kyverno.io/v1 ClusterPolicy']);
  return objects[0] as WorkflowClusterPolicy;
}

describe('workflow admission rule: switch', () => {
  it('is generated only when argo.workflowAdmission is present and enabled', () => {
    expect(workflowAdmissionObjects(config(undefined))).toEqual([]);
    expect(workflowAdmissionObjects(config({ enabled: false }))).toEqual([]);
    expect(workflowAdmissionObjects(config({}))).toHaveLength(1);
    const ids = (c: PlatformConfig) => buildApp(c, '/nonexistent').charts.map((ch) => ch.node.id);
    expect(ids(config(undefined))).not.toContain('workflow-admission');
    expect(ids(config({ kind: 'ClusterPolicy' }))).toContain('workflow-admission');
  });

  it('names the field of a bad kind or mode', () => {
    for (const [bad, field] of [[{ kind: 'Policy' }, 'argo.workflowAdmission.kind'], [{ mode: 'Deny' }, 'argo.workflowAdmission.mode']] as const) {
      expect(() => config(bad)).toThrow(expect.objectContaining({ details: expect.arrayContaining([expect.objectContaining({ field })]) }));
    }
  });
});

describe('workflow admission rule: ValidatingPolicy (CEL)', () => {
  it('judges Workflows and CronWorkflows of the library namespace, at creation and on a spec change', () => {
    const p = vpol(config({}));
    expect(p.spec.matchConstraints.resourceRules).toEqual([
      { apiGroups: ['argoproj.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['workflows', 'cronworkflows'] },
    ]);
    expect(p.spec.matchConditions).toEqual([
      { name: 'library-namespace', expression: "request.namespace == 'forge'" },
      { name: 'spec-set-or-changed', expression: "request.operation == 'CREATE' || object.spec != oldObject.spec" },
    ]);
    expect(vpol(config({}, { namespace: 'ci-forge' })).spec.matchConditions[0]!.expression).toBe("request.namespace == 'ci-forge'");
    expect(p.spec.validationActions).toEqual(['Deny']);
    expect(p.spec.failurePolicy).toBe('Fail');
    // a CronWorkflow is judged by the Workflow it creates
    expect(p.spec.variables.find((v) => v.name === 'spec')!.expression).toContain("object.kind == 'CronWorkflow' ? (has(object.spec.workflowSpec) ? object.spec.workflowSpec");
  });

  it('allows exactly the fields Argo 3.7.14 / 4.0.5 / 4.1.0 allow next to workflowTemplateRef', () => {
    const p = vpol(config({}));
    const allowed = celNames(p.spec.variables.find((v) => v.name === 'allowedFields')!.expression);
    expect(allowed).toEqual([...WORKFLOW_ALLOWED_FIELDS]);
    expect(new Set(allowed)).toEqual(
      new Set(['arguments', 'entrypoint', 'shutdown', 'suspend', 'activeDeadlineSeconds', 'priority', 'ttlStrategy', 'podGC', 'volumeClaimGC', 'archiveLogs', 'workflowMetadata', 'workflowTemplateRef', 'metrics', 'artifactGC']),
    );
    for (const forbidden of ['serviceAccountName', 'podSpecPatch', 'volumes', 'securityContext', 'templates', 'hostNetwork', 'automountServiceAccountToken', 'executor']) {
      expect(allowed).not.toContain(forbidden);
    }
    const [fields, artifactGC] = p.spec.validations;
    expect(fields!.expression).toBe('variables.spec.all(field, field in variables.allowedFields)');
    expect(fields!.messageExpression).toContain("variables.spec.filter(field, !(field in variables.allowedFields)).join(', ')");
    expect(artifactGC!.expression).toBe("!('artifactGC' in variables.spec) || variables.spec.artifactGC.all(field, field in ['strategy', 'forceFinalizerRemoval'])");
    expect([...ARTIFACT_GC_ALLOWED_FIELDS]).toEqual(['strategy', 'forceFinalizerRemoval']);
  });

  it("requires a namespaced workflowTemplateRef to one of the library's templates", () => {
    const withPromotion = vpol(config({}));
    expect(celNames(withPromotion.spec.variables.find((v) => v.name === 'templates')!.expression)).toEqual(['forge-discovery', 'forge-phase', 'forge-pipeline', 'forge-verify-and-promote', 'forge-release', 'forge-deploy']);
    const ref = withPromotion.spec.validations[2]!;
    expect(ref.expression).toBe(
      "'workflowTemplateRef' in variables.spec && 'name' in variables.spec.workflowTemplateRef && variables.spec.workflowTemplateRef.name in variables.templates" +
        " && (!('clusterScope' in variables.spec.workflowTemplateRef) || variables.spec.workflowTemplateRef.clusterScope == false)",
    );
    // the list follows the templates the configuration generates
    const { promotion: _, admission: __, release: ___, ...noPromotion } = example;
    const c = parsePlatformConfig({ ...noPromotion, argo: { workflowAdmission: {} } });
    expect(libraryTemplateNames(c)).toEqual(['forge-discovery', 'forge-phase', 'forge-pipeline']);
    expect(celNames(vpol(c).spec.variables.find((v) => v.name === 'templates')!.expression)).toEqual(['forge-discovery', 'forge-phase', 'forge-pipeline']);
  });

  it('audits and warns instead of denying in Audit mode', () => {
    expect(vpol(config({ mode: 'Audit' })).spec.validationActions).toEqual(['Audit', 'Warn']);
  });
});

describe('workflow admission rule: ClusterPolicy (Kyverno 1.11–1.19)', () => {
  it('has the three checks for Workflows and for CronWorkflows (on spec.workflowSpec)', () => {
    const p = cpol(config({ kind: 'ClusterPolicy' }));
    expect(p.spec).toMatchObject({ validationFailureAction: 'Enforce', background: false, failurePolicy: 'Fail' });
    expect(p.spec.rules.map((r) => r.name)).toEqual([
      'workflow-allowed-fields',
      'workflow-artifact-gc',
      'workflow-library-template',
      'cronworkflow-allowed-fields',
      'cronworkflow-artifact-gc',
      'cronworkflow-library-template',
    ]);
    for (const r of p.spec.rules) {
      const kind = r.name.startsWith('cron') ? 'CronWorkflow' : 'Workflow';
      expect(r.match).toEqual({ any: [{ resources: { kinds: [`argoproj.io/v1alpha1/${kind}`], namespaces: ['forge'], operations: ['CREATE', 'UPDATE'] } }] });
      const path = kind === 'CronWorkflow' ? 'request.object.spec.workflowSpec' : 'request.object.spec';
      for (const c of r.validate.deny.conditions.any) expect(c.key).toContain(`${path}`);
      if (kind === 'Workflow') for (const c of r.validate.deny.conditions.any) expect(c.key).not.toContain('workflowSpec');
    }
    const fields = p.spec.rules[0]!.validate.deny.conditions.any;
    expect(fields).toEqual([{ key: '{{ keys(request.object.spec || `{}`) }}', operator: 'AnyNotIn', value: [...WORKFLOW_ALLOWED_FIELDS] }]);
    expect(p.spec.rules[1]!.validate.deny.conditions.any).toEqual([
      { key: '{{ keys(request.object.spec.artifactGC || `{}`) }}', operator: 'AnyNotIn', value: ['strategy', 'forceFinalizerRemoval'] },
    ]);
    expect(p.spec.rules[2]!.validate.deny.conditions.any).toEqual([
      { key: "{{ request.object.spec.workflowTemplateRef.name || '' }}", operator: 'AnyNotIn', value: ['forge-discovery', 'forge-phase', 'forge-pipeline', 'forge-verify-and-promote', 'forge-release', 'forge-deploy'] },
      { key: '{{ request.object.spec.workflowTemplateRef.clusterScope || `false` }}', operator: 'Equals', value: true },
    ]);
  });

  it('audits in Audit mode', () => {
    expect(cpol(config({ kind: 'ClusterPolicy', mode: 'Audit' })).spec.validationFailureAction).toBe('Audit');
  });
});
