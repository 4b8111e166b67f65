import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1DAGTask as IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { toInputParameter, workflowArguments, type StepInput, type StepOutput } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { outputFile, type OutputName } from '../steps/lib/contract.ts';
import { DEPLOY_STEP, DEPLOY_TEMPLATE } from './deploy.ts';
import { dispatchTemplate } from './dispatch.ts';
import { workflowMetadata } from './metadata.ts';
import { PROMOTE_STEP, VERIFY_AND_PROMOTE_TEMPLATE } from './verify-and-promote.ts';

export const RELEASE_TEMPLATE = 'forge-release';
/** The DAG inside forge-release that forge-pipeline's release stage references per project. */
export const RELEASE_STEP = 'main';

export const releaseInputs: StepInput[] = [
  { name: 'repo-url', description: 'Git URL of the repository (the workers fetch it; credentials come from them, never from this value).' },
  { name: 'commit', description: 'Full 40-character SHA of the commit to release.' },
  { name: 'project', description: 'The project to release (its `name`).' },
  { name: 'path', description: 'The project\'s directory in the repository (`services/api`; `.` for the root).' },
  { name: 'branch', description: 'Branch the commit is on: evaluates `{branch: …}` triggers and names the `<branch>-<n>` alias. Empty for none.', default: '' },
  { name: 'tag', description: 'Tag being released (`api/v1.2.3` under monorepo tagging): evaluates `{tag: true}` and becomes the tag alias. Empty for none.', default: '' },
  { name: 'manual', description: '`true` releases even when none of the project\'s release triggers fires (a manual release).', default: 'false', enum: ['false', 'true'] },
];

const param = (name: string, value: string) => ({ name, value });
const inputsOf = (names: string[]) => names.map((n) => param(n, `{{inputs.parameters.${n}}}`));
const out = <T extends 'release-plan' | 'artifact' | 'release'>(tool: T, name: OutputName<T>, description: string, fallback: string): StepOutput => ({ name, file: outputFile(tool, name), description, default: fallback });

function dag(promotes: boolean): IDAGTask[] {
  const source = inputsOf(['repo-url', 'commit']);
  const release = inputsOf(['project', 'path', 'branch', 'tag', 'manual']);
  return [
    { name: 'plan', template: 'plan', arguments: { parameters: [...source, ...release] } },
    {
      // One job per artifact on the artifact pool, in parallel; any failure fails the release.
      name: 'artifacts',
      template: 'artifact',
      depends: 'plan',
      withParam: '{{tasks.plan.outputs.parameters.artifacts}}',
      arguments: { parameters: [...source, param('task', '{{item}}')] },
    },
    ...(promotes
      ? [{
        // Each image the release built, through the same gates as any other (signature by the build identity, scan, policy).
        name: 'promote',
        templateRef: { name: VERIFY_AND_PROMOTE_TEMPLATE, template: PROMOTE_STEP },
        depends: 'artifacts',
        withParam: '{{tasks.plan.outputs.parameters.images}}',
        arguments: { parameters: [param('image', '{{item.image}}')] },
      }]
      : []),
    { name: 'release', template: 'release', depends: promotes ? 'artifacts && promote' : 'artifacts', arguments: { parameters: [...source, ...release] } },
    {
      // The environments whose policy takes this release and deploys it on its own.
      name: 'deploy',
      templateRef: { name: DEPLOY_TEMPLATE, template: DEPLOY_STEP },
      depends: 'release',
      withParam: '{{tasks.release.outputs.parameters.environments}}',
      arguments: {
        parameters: [
          ...inputsOf(['repo-url', 'commit', 'project']),
          param('environment', '{{item}}'),
          param('release', '{{inputs.parameters.commit}}'),
          param('rollback', 'false'),
        ],
      },
    },
  ];
}

/**
 * forge-release (docs/releases.md): one project's release at one commit — plan, its artifacts on
 * the artifact pool, verify-and-promote of the images it built, the release itself (rendered,
 * recorded, Release OCI image signed) on the release pool, then forge-deploy to every
 * environment that takes it on its own. forge-pipeline runs it per triggered project.
 */
export function releaseTemplate(config: PlatformConfig): IWorkflowTemplate | undefined {
  const r = config.release;
  if (!r) return undefined;
  const timeoutSeconds = r.timeoutSeconds;
  const plan = dispatchTemplate(config, {
    name: 'plan', kind: 'release-plan', pool: 'release', inputs: releaseInputs, timeoutSeconds: 600,
    outputs: [
      out('release-plan', 'artifacts', 'JSON array of the artifact jobs ({id, project, path, artifact, …}).', '[]'),
      out('release-plan', 'images', 'JSON array of the container images to promote ({artifact, image}).', '[]'),
      out('release-plan', 'trigger', 'What made the release: branch, tag or manual.', ''),
    ],
  });
  const artifact = dispatchTemplate(config, {
    name: 'artifact', kind: 'artifact', pool: 'artifact', timeoutSeconds,
    inputs: [releaseInputs[0]!, releaseInputs[1]!, { name: 'task', description: 'One artifact job of the plan, as JSON.' }],
    outputs: [
      out('artifact', 'artifact', 'JSON of what was published: uri, digest, publisher outputs, tracking image.', '{}'),
      out('artifact', 'uri', 'The primary published location (`<repository>@<digest>`).', ''),
    ],
  });
  const release = dispatchTemplate(config, {
    name: 'release', kind: 'release', pool: 'release', inputs: releaseInputs, timeoutSeconds: 1800,
    outputs: [
      out('release', 'number', 'The release number (per project, from 1, no gaps).', ''),
      out('release', 'aliases', 'JSON of the aliases: numeric, tag, branch.', '{}'),
      out('release', 'image', 'The signed Release OCI image (`…@sha256:…`).', ''),
      out('release', 'environments', 'JSON array of the environments it deploys to on its own.', '[]'),
    ],
  });
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: RELEASE_TEMPLATE,
      namespace: config.namespace,
      labels: standardLabels('release'),
      annotations: {
        'workflows.argoproj.io/title': 'Release a project',
        'workflows.argoproj.io/description':
          'Builds and publishes the project\'s artifacts (signed, with tracking images), promotes the images it built, renders its deployment resources, ' +
          'records the release (number and aliases) and pushes the signed Release OCI image, then deploys it to the environments that take it on their own.',
      },
    },
    spec: {
      entrypoint: RELEASE_STEP,
      serviceAccountName: config.serviceAccounts.workflow,
      activeDeadlineSeconds: timeoutSeconds,
      arguments: { parameters: workflowArguments(releaseInputs) },
      workflowMetadata: workflowMetadata('Release', 'Project `{{workflow.parameters.project}}` at commit `{{workflow.parameters.commit}}`'),
      templates: [
        { name: RELEASE_STEP, inputs: { parameters: releaseInputs.map(toInputParameter) }, dag: { tasks: dag(config.promotion !== undefined) } },
        plan,
        artifact,
        release,
      ],
    },
  };
}
