/**
 * Workflow creation is pod creation: on the cluster's Argo controller, run with the settings the
 * library generates (cdk8s/charts/argo-controller.ts, `templateReferencing: Secure`), the
 * library's submitter account (cdk8s/charts/rbac.ts) can run a WorkflowTemplate with
 * `argo submit --from`, and nothing else: a Workflow with an inline template, or one that
 * overrides `serviceAccountName`, `podSpecPatch`, `volumes`, `securityContext`, `templates` or
 * the artifact-GC pod's account next to its `workflowTemplateRef`, ends in `Error` with the
 * controller's restriction message and never gets a pod; the submitter may not create or edit
 * WorkflowTemplates, CronWorkflows or pods.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { argo, e2eEnv, getWorkflow, kubectl, run, submittedName, synthesizeAndApply, type E2eEnv } from './e2e-env.ts';

const TEMPLATE = 'e2e-whoami';
const SUBMITTER = 'forge-submitter';
const SIGNER = 'forge-promotion-signer';
const OVERRIDE_REFUSED = 'are not permitted when using workflowTemplateRef with templateReferencing restriction';

let env: E2eEnv;
let tmp: string;
let asSubmitter: string;

/** A WorkflowTemplate that reports the account and uid its pod runs as (the template fixes both). */
function whoamiTemplate(): string {
  return stringify({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: { name: TEMPLATE },
    spec: {
      entrypoint: 'main',
      serviceAccountName: 'forge-workflow',
      activeDeadlineSeconds: 300,
      arguments: { parameters: [{ name: 'greeting', value: 'hello' }] },
      templates: [
        {
          name: 'main',
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          container: {
            name: 'main',
            image: env.stepsImage,
            imagePullPolicy: env.pullPolicy,
            command: ['node', '-e', "console.log(process.argv[1] + ' as uid ' + process.getuid())", '{{workflow.parameters.greeting}}'],
            resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        },
      ],
    },
  });
}

/** Creates a Workflow as the submitter; returns its name. */
async function createAsSubmitter(spec: Record<string, unknown>): Promise<string> {
  const wf = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { generateName: 'e2e-attack-' }, spec };
  const out = await kubectl(env, ['-n', env.namespace, `--as=${asSubmitter}`, 'create', '-o', 'name', '-f', '-'], stringify(wf));
  return out.trim().replace(/^workflow\.argoproj\.io\//, '');
}

/** Waits until the controller has judged the workflow (a phase other than Pending/Running), returns it. */
async function settled(name: string, timeoutMs = 90_000): Promise<{ phase: string; message: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const json = JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'workflow', name, '-o', 'json'])) as { status?: { phase?: string; message?: string } };
    const phase = json.status?.phase ?? '';
    if (phase && phase !== 'Pending' && phase !== 'Running') return { phase, message: json.status?.message ?? '' };
    if (Date.now() > deadline) throw new Error(`workflow ${name} still ${phase || 'unjudged'} after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function podsOf(name: string): Promise<string[]> {
  const out = await kubectl(env, ['-n', env.namespace, 'get', 'pods', '-l', `workflows.argoproj.io/workflow=${name}`, '-o', 'name']);
  return out.split('\n').filter(Boolean);
}

beforeAll(async () => {
  env = e2eEnv();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-restrictions-'));
  // The library's RBAC (forge-workflow, forge-submitter, forge-promotion-signer) and one library template.
  await synthesizeAndApply(env, tmp, { template: 'forge-discovery' });
  await kubectl(env, ['-n', env.namespace, 'apply', '-f', '-'], whoamiTemplate());
  asSubmitter = `system:serviceaccount:${env.namespace}:${SUBMITTER}`;
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the controller runs with the generated settings', () => {
  it('has templateReferencing: Secure from the library chart', async () => {
    const data = JSON.parse(await kubectl(env, ['-n', 'argo', 'get', 'configmap', 'workflow-controller-configmap', '-o', 'jsonpath={.data}'])) as Record<string, string>;
    expect(data.workflowRestrictions).toMatch(/templateReferencing: Secure/);
  });
});

describe('workflow creation is pod creation: the submitter runs library templates only', () => {
  it('runs a WorkflowTemplate through argo submit --from as the submitter', async () => {
    const r = await argo(env, ['--as', asSubmitter, 'submit', '--from', `workflowtemplate/${TEMPLATE}`, '-p', 'greeting=submitted', '--wait', '-o', 'name']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const wf = await getWorkflow(env, submittedName(r));
    expect(wf.status.phase).toBe('Succeeded');
    const logs = await argo(env, ['logs', wf.metadata.name, '--no-color']);
    expect(logs.stdout).toMatch(/submitted as uid 65532/);
  });

  it('refuses a Workflow with an inline template: it ends in Error and never gets a pod', async () => {
    const name = await createAsSubmitter({
      entrypoint: 'main',
      serviceAccountName: SIGNER,
      templates: [{ name: 'main', container: { name: 'main', image: env.stepsImage, imagePullPolicy: env.pullPolicy, command: ['node', '-e', '0'] } }],
    });
    const wf = await settled(name);
    expect(wf).toEqual({ phase: 'Error', message: 'workflows must use workflowTemplateRef to be executed when the controller is in reference mode' });
    expect(await podsOf(name)).toEqual([]);
  });

  const overrides: [string, Record<string, unknown>, string][] = [
    ['serviceAccountName', { serviceAccountName: SIGNER }, 'ServiceAccountName'],
    ['podSpecPatch', { podSpecPatch: JSON.stringify({ serviceAccountName: SIGNER, containers: [{ name: 'main', securityContext: { runAsUser: 0 } }] }) }, 'PodSpecPatch'],
    ['volumes', { volumes: [{ name: 'key', secret: { secretName: 'forge-promotion-key' } }] }, 'Volumes'],
    ['securityContext', { securityContext: { runAsUser: 0, runAsNonRoot: false } }, 'SecurityContext'],
    ['templates', { templates: [{ name: 'main', container: { name: 'main', image: 'attacker.invalid/tool:1', command: ['sh'] } }] }, 'Templates'],
    ['artifactGC.serviceAccountName', { artifactGC: { strategy: 'OnWorkflowDeletion', serviceAccountName: SIGNER } }, 'ArtifactGC.ServiceAccountName'],
  ];
  it.each(overrides)('refuses a workflowTemplateRef submission overriding %s', async (_field, override, goName) => {
    const name = await createAsSubmitter({ workflowTemplateRef: { name: TEMPLATE }, ...override });
    const wf = await settled(name);
    expect(wf).toEqual({ phase: 'Error', message: `fields [${goName}] ${OVERRIDE_REFUSED}` });
    expect(await podsOf(name)).toEqual([]);
  });

  it('refuses argo submit --from … --serviceaccount', async () => {
    const r = await argo(env, ['--as', asSubmitter, 'submit', '--from', `workflowtemplate/${TEMPLATE}`, '--serviceaccount', SIGNER, '-o', 'name']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0); // created; the controller judges it
    const name = submittedName(r);
    const wf = await settled(name);
    expect(wf).toEqual({ phase: 'Error', message: `fields [ServiceAccountName] ${OVERRIDE_REFUSED}` });
    expect(await podsOf(name)).toEqual([]);
  });
});

describe('the submitter may not create or edit what runs pods', () => {
  it.each([
    ['create', 'workflowtemplates', 'no'],
    ['update', 'workflowtemplates', 'no'],
    ['patch', 'workflowtemplates', 'no'],
    ['delete', 'workflowtemplates', 'no'],
    ['create', 'clusterworkflowtemplates', 'no'],
    ['create', 'cronworkflows', 'no'],
    ['update', 'workflows', 'no'],
    ['create', 'pods', 'no'],
    ['create', 'workflows', 'yes'],
    ['get', 'workflowtemplates', 'yes'],
  ])('kubectl auth can-i %s %s: %s', async (verb, resource, answer) => {
    const r = await run(env.kubectlBin, ['--kubeconfig', env.kubeconfig, '-n', env.namespace, 'auth', 'can-i', verb, resource, `--as=${asSubmitter}`]);
    expect(r.stdout.trim()).toBe(answer);
  });

  it('is refused when it tries to change or add a WorkflowTemplate', async () => {
    const attack = whoamiTemplate().replace('serviceAccountName: forge-workflow', `serviceAccountName: ${SIGNER}`);
    expect(attack).toContain(SIGNER);
    const kubectlAs = (args: string[], input: string) => run(env.kubectlBin, ['--kubeconfig', env.kubeconfig, '-n', env.namespace, `--as=${asSubmitter}`, ...args], { input });
    const changed = await kubectlAs(['apply', '-f', '-'], attack);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain(`workflowtemplates.argoproj.io "${TEMPLATE}" is forbidden: User "${asSubmitter}" cannot patch resource "workflowtemplates"`);
    const added = await kubectlAs(['create', '-f', '-'], attack.replace(`name: ${TEMPLATE}`, 'name: e2e-attacker'));
    expect(added.code).not.toBe(0);
    expect(added.stderr).toContain(`workflowtemplates.argoproj.io is forbidden: User "${asSubmitter}" cannot create resource "workflowtemplates"`);
    // and the template is unchanged
    expect(await kubectl(env, ['-n', env.namespace, 'get', 'workflowtemplate', TEMPLATE, '-o', 'jsonpath={.spec.serviceAccountName}'])).toBe('forge-workflow');
  });
});
