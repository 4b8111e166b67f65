import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1DAGTask as IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { stepTemplate, workflowArguments, type StepInput } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { groupOutput, outputFile } from '../steps/lib/contract.ts';
import { commitStatusTask, commitStatusTemplate } from './commit-status.ts';
import { discoveryInputs, discoveryOutputs } from './discovery.ts';
import { dispatchTemplate } from './dispatch.ts';
import { workflowMetadata } from './metadata.ts';
import { PHASE_STEP, PHASE_TEMPLATE } from './phase.ts';
import { RELEASE_STEP, RELEASE_TEMPLATE } from './release.ts';

export const PIPELINE_TEMPLATE = 'forge-pipeline';

export const pipelineInputs: StepInput[] = [
  ...discoveryInputs,
  { name: 'pull-request', description: 'Pull request number the commit belongs to; labels the workflow (`forge.dev/pull-request`) so the UI filters by it. Empty for none.', default: '' },
];

/** The DAG: discover, then group-1 … group-N, each fanned out over its slot's tasks and run after the one before. */
function pipelineDag(slots: number, release: boolean): IDAGTask[] {
  const tasks: IDAGTask[] = [
    {
      name: 'discover',
      template: 'discover',
      arguments: { parameters: discoveryInputs.map((i) => ({ name: i.name, value: `{{workflow.parameters.${i.name}}}` })) },
    },
  ];
  for (let slot = 1; slot <= slots; slot++) {
    tasks.push({
      name: groupOutput(slot),
      // An empty slot expands to nothing and is skipped; a failed slot stops every later one.
      depends: slot === 1 ? 'discover' : groupOutput(slot - 1),
      templateRef: { name: PHASE_TEMPLATE, template: PHASE_STEP },
      withParam: `{{tasks.discover.outputs.parameters.${groupOutput(slot)}}}`,
      arguments: {
        parameters: [
          { name: 'repo-url', value: '{{workflow.parameters.repo-url}}' },
          { name: 'commit', value: '{{workflow.parameters.commit}}' },
          { name: 'task', value: '{{item}}' },
        ],
      },
    });
  }
  if (release) {
    tasks.push({
      // One forge-release per project whose trigger fired, after every group succeeded.
      name: 'release',
      depends: groupOutput(slots),
      templateRef: { name: RELEASE_TEMPLATE, template: RELEASE_STEP },
      withParam: '{{tasks.discover.outputs.parameters.releases}}',
      arguments: {
        parameters: [
          ...['repo-url', 'commit', 'branch', 'tag'].map((n) => ({ name: n, value: `{{workflow.parameters.${n}}}` })),
          { name: 'project', value: '{{item.project}}' },
          { name: 'path', value: '{{item.path}}' },
          { name: 'manual', value: 'false' },
        ],
      },
    });
  }
  return tasks;
}

const summaryInputs: StepInput[] = [
  { name: 'status', description: 'The run\'s status ({{workflow.status}}).' },
  { name: 'failures', description: 'JSON of the failed nodes ({{workflow.failures}}).', default: '' },
  { name: 'duration', description: 'Seconds the run took ({{workflow.duration}}).', default: '' },
];

/**
 * forge-pipeline: a commit end to end (docs/templates/forge-pipeline.md): discovery on the
 * `discovery` pool, the phase-group slots on the `ci` pool, and a summary as the exit handler
 * (beside it, with a github section in the platform config, the run's commit status).
 * With a release section in the platform config, forge-release follows for every project whose
 * release trigger fired (it promotes the images it builds and deploys where policy lets it).
 */
export function pipelineTemplate(config: PlatformConfig): IWorkflowTemplate {
  const slots = config.pipeline.phaseGroupSlots;
  const discover = dispatchTemplate(config, {
    name: 'discover',
    kind: 'discover',
    pool: 'discovery',
    inputs: discoveryInputs,
    outputs: discoveryOutputs(slots),
    artifacts: [{ name: 'discovery', file: outputFile('discover', 'discovery'), description: 'The full discovery output (docs/discovery-contract.md).' }],
    timeoutSeconds: config.pipeline.discoveryTimeoutSeconds,
  });
  const summary = stepTemplate(config, {
    name: 'summary',
    command: 'summary',
    inputs: summaryInputs,
    env: { FORGE_REPO_URL: '{{workflow.parameters.repo-url}}', FORGE_COMMIT: '{{workflow.parameters.commit}}' },
    outputs: [],
    timeoutSeconds: 120,
  });
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: PIPELINE_TEMPLATE,
      namespace: config.namespace,
      labels: standardLabels('pipeline'),
      annotations: {
        'workflows.argoproj.io/title': 'Forge pipeline',
        'workflows.argoproj.io/description':
          "Runs a commit's CI end to end on the hot worker pools: discovery, then each phase group in order " +
          '(every project of a group in parallel, fail-fast), then a summary. Start it with the repository URL and the full commit SHA.',
      },
    },
    spec: {
      entrypoint: 'pipeline',
      onExit: 'exit-summary',
      serviceAccountName: config.serviceAccounts.workflow,
      parallelism: config.pipeline.parallelism,
      activeDeadlineSeconds: config.pipeline.activeDeadlineSeconds,
      ...(config.artifactRepositoryRef ? { artifactRepositoryRef: { ...config.artifactRepositoryRef } } : {}),
      arguments: { parameters: workflowArguments(pipelineInputs) },
      workflowMetadata: workflowMetadata('Pipeline', undefined, {
        'forge.dev/pull-request': { expression: "sprig.trunc(20, sprig.regexReplaceAll('[^0-9]', workflow.parameters['pull-request'], ''))" },
      }),
      templates: [
        { name: 'pipeline', dag: { tasks: pipelineDag(slots, config.release !== undefined) } },
        discover,
        {
          name: 'exit-summary',
          dag: {
            tasks: [
              {
                name: 'summary',
                template: 'summary',
                arguments: {
                  parameters: [
                    { name: 'status', value: '{{workflow.status}}' },
                    { name: 'failures', value: '{{workflow.failures}}' },
                    { name: 'duration', value: '{{workflow.duration}}' },
                  ],
                },
              },
              ...(config.github ? [commitStatusTask()] : []),
            ],
          },
        },
        summary,
        ...(config.github ? [commitStatusTemplate(config, config.github)] : []),
      ],
    },
  };
}
