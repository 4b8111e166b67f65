import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1DAGTask as IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { toInputParameter, workflowArguments, type StepInput } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { outputFile } from '../steps/lib/contract.ts';
import { dispatchTemplate } from './dispatch.ts';

export const DEPLOY_TEMPLATE = 'forge-deploy';
/** The DAG inside forge-deploy that forge-release references for each environment it deploys to. */
export const DEPLOY_STEP = 'main';
/** What a deploy job is given as its commit when none is known: deploy jobs check nothing out. */
export const NO_COMMIT = '0'.repeat(40);

export function deployInputs(config: PlatformConfig): StepInput[] {
  const environments = Object.keys(config.release?.environments ?? {});
  return [
    { name: 'repo-url', description: 'Git URL of the repository the release was made from (names the release: `<owner>/<name>`).' },
    { name: 'project', description: 'The project to deploy.' },
    { name: 'environment', description: 'Where to deploy: its policy decides whether this release may go there and whether a person must approve first.', enum: environments },
    { name: 'release', description: 'The release: its number (`42`), an alias (`api/v1.2.3`, `main-42`) or its commit SHA (7 characters or more).' },
    { name: 'commit', description: 'The release\'s commit when known (forge-release passes it); otherwise leave the default.', default: NO_COMMIT },
    { name: 'rollback', description: '`true` marks this as a rollback: an older release deployed forward, with the rollback commit message.', default: 'false', enum: ['false', 'true'] },
  ];
}

const param = (name: string, value: string) => ({ name, value });
const fromInputs = (names: string[]) => names.map((n) => param(n, `{{inputs.parameters.${n}}}`));

function dag(): IDAGTask[] {
  const common = fromInputs(['repo-url', 'commit', 'project', 'environment', 'rollback']);
  return [
    { name: 'check', template: 'check', arguments: { parameters: [...common, param('release', '{{inputs.parameters.release}}')] } },
    {
      // A protected environment waits here: approve (`forge approve`), then Resume in the UI or `argo resume`.
      name: 'approval',
      template: 'approval',
      depends: 'check',
      when: `{{tasks.check.outputs.parameters.needs-approval}} == true`,
    },
    {
      name: 'deploy',
      template: 'deploy',
      depends: 'check && approval',
      arguments: { parameters: [...common, param('release', '{{tasks.check.outputs.parameters.release}}')] },
    },
  ];
}

/**
 * forge-deploy (docs/releases.md): a recorded release to one environment. The environment's
 * policy is checked first; a protected one waits in a `suspend` node until it is resumed, and the
 * deployment then goes on only if an active approval of this release exists. The deploy job
 * commits the GitOps pointer; Argo CD does the rest.
 */
export function deployTemplate(config: PlatformConfig): IWorkflowTemplate | undefined {
  const r = config.release;
  if (!r) return undefined;
  const inputs = deployInputs(config);
  const job = (name: 'check' | 'deploy') => {
    return dispatchTemplate(config, {
      name,
      kind: name === 'check' ? 'deploy-plan' : 'deploy',
      pool: 'release',
      inputs: inputs.map((i) => ({ ...i, enum: undefined })),
      outputs: name === 'check'
        ? [
          { name: 'needs-approval', file: outputFile('deploy-plan', 'needs-approval'), default: 'false', description: '`true` when the environment requires an approval and none is active yet.' },
          { name: 'release', file: outputFile('deploy-plan', 'release'), default: '', description: 'The release\'s commit SHA (what the pointer will name).' },
        ]
        : [
          { name: 'pointer-commit', file: outputFile('deploy', 'pointer-commit'), default: '', description: 'The GitOps commit that updated the pointer; empty when it already named this release.' },
          { name: 'pointer', file: outputFile('deploy', 'pointer'), default: '', description: 'The pointer file in the GitOps repository.' },
        ],
      // Who deploys, as far as the workflow can tell without trusting a parameter: the run itself.
      env: { FORGE_DEPLOYED_BY: 'workflow/{{workflow.namespace}}/{{workflow.name}}' },
      timeoutSeconds: 600,
    });
  };
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: DEPLOY_TEMPLATE,
      namespace: config.namespace,
      labels: standardLabels('deploy'),
      annotations: {
        'workflows.argoproj.io/title': 'Deploy a release',
        'workflows.argoproj.io/description':
          'Points an environment at a recorded release: checks the environment\'s policy (triggers, branches), waits for an approval where one is required ' +
          '(`forge approve`, then Resume), and commits the ReleasePointer to the GitOps repository, from which Argo CD deploys.',
      },
    },
    spec: {
      entrypoint: DEPLOY_STEP,
      serviceAccountName: config.serviceAccounts.workflow,
      activeDeadlineSeconds: 7 * 86400,
      arguments: { parameters: workflowArguments(inputs) },
      workflowMetadata: {
        labels: { 'app.kubernetes.io/part-of': 'forge-workflows', 'forge.dev/stage': 'deploy' },
        annotations: {
          'workflows.argoproj.io/title': 'Deploy {{workflow.parameters.project}} {{workflow.parameters.release}} to {{workflow.parameters.environment}}',
          'workflows.argoproj.io/description': 'Repository `{{workflow.parameters.repo-url}}`',
        },
      },
      templates: [
        { name: DEPLOY_STEP, inputs: { parameters: inputs.map(toInputParameter) }, dag: { tasks: dag() } },
        job('check'),
        // Approve the release for this environment (`forge approve`), then Resume (UI) or `argo resume`.
        { name: 'approval', suspend: {} },
        job('deploy'),
      ],
    },
  };
}
