import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTemplate } from '../cdk8s/constructs/workflow-template.ts';
import { loadPlatformConfig, type PlatformConfig } from '../cdk8s/platform-config.ts';
import { DEPLOY_STEP, DEPLOY_TEMPLATE, deployTemplate } from './deploy.ts';
import { pipelineTemplate } from './pipeline.ts';
import { RELEASE_STEP, RELEASE_TEMPLATE, releaseTemplate } from './release.ts';
import { PROMOTE_STEP, VERIFY_AND_PROMOTE_TEMPLATE } from './verify-and-promote.ts';

// The release stage's wiring (Argo runs it in test/cluster/release.e2e.ts; the jobs' own behaviour
// is steps/worker/release-flow.test.ts): which node follows which, fans out over what, on which pool.
const root = fileURLToPath(new URL('..', import.meta.url));
let config: PlatformConfig;
beforeAll(async () => {
  config = await loadPlatformConfig(join(root, 'cdk8s/platform.example.yaml'));
});

const env = (t: { container?: { env?: { name: string; value?: string }[] } }, name: string) => t.container?.env?.find((e) => e.name === name)?.value;

describe('forge-release', () => {
  it('plan → artifacts (artifact pool, one per planned artifact) → promote (forge-verify-and-promote per image) → release → deploy per environment', () => {
    const t = releaseTemplate(config)!;
    checkTemplate(t);
    const tasks = t.spec.templates!.find((x) => x.name === RELEASE_STEP)!.dag!.tasks!;
    expect(tasks.map((x) => [x.name, x.depends ?? '', x.withParam ?? '', x.template ?? `${x.templateRef!.name}/${x.templateRef!.template}`])).toEqual([
      ['plan', '', '', 'plan'],
      ['artifacts', 'plan', '{{tasks.plan.outputs.parameters.artifacts}}', 'artifact'],
      ['promote', 'artifacts', '{{tasks.plan.outputs.parameters.images}}', `${VERIFY_AND_PROMOTE_TEMPLATE}/${PROMOTE_STEP}`],
      ['release', 'artifacts && promote', '', 'release'],
      ['deploy', 'release', '{{tasks.release.outputs.parameters.environments}}', `${DEPLOY_TEMPLATE}/${DEPLOY_STEP}`],
    ]);
    const pools = Object.fromEntries(t.spec.templates!.filter((x) => x.container).map((x) => [x.name, [env(x, 'FORGE_KIND'), env(x, 'FORGE_POOL')]]));
    expect(pools).toEqual({ plan: ['release-plan', 'release'], artifact: ['artifact', 'artifact'], release: ['release', 'release'] });
    // The deployment names the release by its commit: what the pointer will hold.
    expect(tasks.find((x) => x.name === 'deploy')!.arguments!.parameters!.find((p) => p.name === 'release')!.value).toBe('{{inputs.parameters.commit}}');
  });

  it('without a promotion section the release does not wait for promotions', () => {
    const { promotion: _, ...noPromotion } = config;
    const tasks = releaseTemplate({ ...noPromotion, admission: undefined } as PlatformConfig)!.spec.templates!.find((x) => x.name === RELEASE_STEP)!.dag!.tasks!;
    expect(tasks.map((x) => x.name)).toEqual(['plan', 'artifacts', 'release', 'deploy']);
    expect(tasks.find((x) => x.name === 'release')!.depends).toBe('artifacts');
  });

  it('is not generated without a release section, and forge-pipeline then ends after its groups', () => {
    const without = { ...config, release: undefined };
    expect(releaseTemplate(without)).toBeUndefined();
    expect(deployTemplate(without)).toBeUndefined();
    const names = (c: PlatformConfig) => pipelineTemplate(c).spec.templates!.find((x) => x.name === 'pipeline')!.dag!.tasks!.map((x) => x.name);
    expect(names(without).at(-1)).toBe(`group-${config.pipeline.phaseGroupSlots}`);
    const release = pipelineTemplate(config).spec.templates!.find((x) => x.name === 'pipeline')!.dag!.tasks!.at(-1)!;
    expect(release).toMatchObject({ name: 'release', depends: `group-${config.pipeline.phaseGroupSlots}`, withParam: '{{tasks.discover.outputs.parameters.releases}}', templateRef: { name: RELEASE_TEMPLATE, template: RELEASE_STEP } });
  });
});

describe('forge-deploy', () => {
  it('check → approval (a suspend node, only when the check says so) → deploy with the release the check resolved', () => {
    const t = deployTemplate(config)!;
    checkTemplate(t);
    const tasks = t.spec.templates!.find((x) => x.name === DEPLOY_STEP)!.dag!.tasks!;
    expect(tasks.map((x) => [x.name, x.depends ?? '', x.when ?? ''])).toEqual([
      ['check', '', ''],
      ['approval', 'check', '{{tasks.check.outputs.parameters.needs-approval}} == true'],
      ['deploy', 'check && approval', ''],
    ]);
    expect(t.spec.templates!.find((x) => x.name === 'approval')).toEqual({ name: 'approval', suspend: {} });
    expect(tasks.find((x) => x.name === 'deploy')!.arguments!.parameters!.find((p) => p.name === 'release')!.value).toBe('{{tasks.check.outputs.parameters.release}}');
    // The environment is a choice in the submit form; who deploys is the run, never a parameter.
    expect(t.spec.arguments!.parameters!.find((p) => p.name === 'environment')!.enum).toEqual(Object.keys(config.release!.environments));
    const deploy = t.spec.templates!.find((x) => x.name === 'deploy')!;
    expect(env(deploy, 'FORGE_DEPLOYED_BY')).toBe('workflow/{{workflow.namespace}}/{{workflow.name}}');
    expect(deploy.inputs!.parameters!.map((p) => p.name)).not.toContain('deployed-by');
  });
});
