/**
 * The generated workflow admission rule (cdk8s/charts/workflow-admission.ts) evaluated by the real
 * Kyverno CLI (`kyverno apply`), in both generated forms: a Workflow or CronWorkflow in the
 * library's namespace is admitted only when it references a library WorkflowTemplate
 * (namespaced) and sets nothing beyond the fields a fixed Argo controller allows.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowAdmissionObjects } from '../../cdk8s/charts/workflow-admission.ts';
import { parsePlatformConfig } from '../../cdk8s/platform-config.ts';
import { toolPath } from '../../steps/lib/tools.ts';

/** The Kyverno CLI the toolchain installs (images/toolchain/tools.json `kyverno`; missing → an error naming the install command). */
const kyverno = (): string => toolPath('kyverno');

const example = parse(readFileSync(fileURLToPath(new URL('../../cdk8s/platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>;
const NS = 'forge';

function workflow(name: string, spec: Record<string, unknown>, namespace = NS): Record<string, unknown> {
  return { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name, namespace }, spec };
}
function cronWorkflow(name: string, workflowSpec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'argoproj.io/v1alpha1', kind: 'CronWorkflow', metadata: { name, namespace: NS }, spec: { schedules: ['0 * * * *'], workflowSpec } };
}

const ref = { workflowTemplateRef: { name: 'forge-verify-and-promote' } };
/** name → [resource, expected result, a fragment of the message for a refusal]. */
const CASES: Record<string, [Record<string, unknown>, 'pass' | 'fail' | 'skip', string?]> = {
  'from-template': [workflow('from-template', { ...ref, arguments: { parameters: [{ name: 'image', value: 'x' }] }, podGC: { strategy: 'OnPodSuccess' }, artifactGC: { strategy: 'OnWorkflowDeletion' }, ttlStrategy: { secondsAfterCompletion: 60 } }), 'pass'],
  'inline-template': [workflow('inline-template', { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'attacker.invalid/x:1' } }] }), 'fail', 'templates'],
  'service-account': [workflow('service-account', { ...ref, serviceAccountName: 'forge-promotion-signer' }), 'fail', 'serviceAccountName'],
  'pod-spec-patch': [workflow('pod-spec-patch', { ...ref, podSpecPatch: '{"serviceAccountName":"forge-promotion-signer"}' }), 'fail', 'podSpecPatch'],
  volumes: [workflow('volumes', { ...ref, volumes: [{ name: 'key', secret: { secretName: 'forge-promotion-key' } }] }), 'fail', 'volumes'],
  'security-context': [workflow('security-context', { ...ref, securityContext: { runAsUser: 0 } }), 'fail', 'securityContext'],
  'artifact-gc-account': [workflow('artifact-gc-account', { ...ref, artifactGC: { strategy: 'OnWorkflowDeletion', serviceAccountName: 'forge-promotion-signer' } }), 'fail', 'serviceAccountName'],
  'other-template': [workflow('other-template', { workflowTemplateRef: { name: 'attacker-template' } }), 'fail', 'workflowTemplateRef must name one of the forge-workflows WorkflowTemplates'],
  'cluster-scoped': [workflow('cluster-scoped', { workflowTemplateRef: { name: 'forge-verify-and-promote', clusterScope: true } }), 'fail', 'workflowTemplateRef must name one of the forge-workflows WorkflowTemplates'],
  'no-reference': [workflow('no-reference', { arguments: { parameters: [] } }), 'fail', 'workflowTemplateRef must name one of the forge-workflows WorkflowTemplates'],
  'other-namespace': [workflow('other-namespace', { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'x' } }] }, 'team-a'), 'skip'],
  'cron-from-template': [cronWorkflow('cron-from-template', { workflowTemplateRef: { name: 'forge-discovery' } }), 'pass'],
  'cron-pod-spec-patch': [cronWorkflow('cron-pod-spec-patch', { workflowTemplateRef: { name: 'forge-discovery' }, podSpecPatch: '{"hostNetwork":true}' }), 'fail', 'podSpecPatch'],
  'cron-inline': [cronWorkflow('cron-inline', { entrypoint: 'main', templates: [{ name: 'main', container: { image: 'x' } }] }), 'fail', 'templates'],
};

let work: string;
beforeAll(async () => {
  kyverno(); // a missing CLI fails here, naming `npm run tools:install`
  work = await mkdtemp(join(tmpdir(), 'forge-workflow-admission-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Verdict {
  result: string;
  rule?: string;
  message?: string;
}

/** `kyverno apply` of the generated rule to every case; results by resource name. */
async function apply(kind: 'ValidatingPolicy' | 'ClusterPolicy'): Promise<Map<string, Verdict[]>> {
  const config = parsePlatformConfig({ ...example, argo: { workflowAdmission: { kind } } });
  const dir = await mkdtemp(join(work, `${kind}-`));
  await writeFile(join(dir, 'policy.yaml'), workflowAdmissionObjects(config).map((o) => stringify(o)).join('---\n'));
  await writeFile(join(dir, 'resources.yaml'), Object.values(CASES).map(([r]) => stringify(r)).join('---\n'));
  const r = await execa(kyverno(), ['apply', join(dir, 'policy.yaml'), '--resource', join(dir, 'resources.yaml'), '--policy-report', '--output-format', 'json', '--remove-color'], {
    reject: false,
    env: { HOME: dir, KUBECONFIG: join(dir, 'no-kubeconfig') },
    timeout: 120_000,
  });
  let report: { results?: Array<Verdict & { resources?: Array<{ name: string }> }> };
  try {
    report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as typeof report;
  } catch {
    throw new Error(`kyverno apply printed no policy report (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }
  const byName = new Map<string, Verdict[]>();
  for (const { resources, result, rule, message } of report.results ?? []) {
    for (const { name } of resources ?? []) byName.set(name, [...(byName.get(name) ?? []), { result, rule, message }]);
  }
  return byName;
}

for (const kind of ['ValidatingPolicy', 'ClusterPolicy'] as const) {
  describe(`kyverno apply of the generated ${kind}`, () => {
    let verdicts: Map<string, Verdict[]>;
    beforeAll(async () => {
      verdicts = await apply(kind);
    });

    it.each(Object.entries(CASES))('%s', (name, [, expected, fragment]) => {
      const v = verdicts.get(name) ?? [];
      const failed = v.filter((x) => x.result === 'fail' || x.result === 'error');
      if (expected === 'pass') {
        expect(failed, JSON.stringify(v)).toEqual([]);
        expect(v.some((x) => x.result === 'pass'), JSON.stringify(v)).toBe(true);
      } else if (expected === 'skip') {
        expect(v.every((x) => x.result === 'skip'), JSON.stringify(v)).toBe(true);
      } else {
        expect(failed.length, JSON.stringify(v)).toBeGreaterThan(0);
        expect(failed.every((x) => x.result === 'fail'), JSON.stringify(v)).toBe(true);
        expect(failed.map((x) => x.message ?? '').join('\n')).toContain(fragment);
      }
    });
  });
}
