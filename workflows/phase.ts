import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { workflowArguments, type StepInput } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { dispatchTemplate } from './dispatch.ts';
import { workflowMetadata } from './metadata.ts';

export const PHASE_TEMPLATE = 'forge-phase';
/** The template inside forge-phase that forge-pipeline's group slots reference. */
export const PHASE_STEP = 'phase';

export const phaseInputs: StepInput[] = [
  { name: 'repo-url', description: 'Git URL of the repository (the ci pool\'s workers fetch it into their git cache; credentials come from the workers, never from this value).' },
  { name: 'commit', description: 'Full 40-character SHA of the commit to run.' },
  {
    name: 'task',
    description:
      'One task of a discovery slot list, as JSON: `{"id":"build-api","phase":"build","project":"api","path":"services/api","timeout":"15m"}` ' +
      '(`forge discover --output json` prints them under `slots`). The steps themselves are read from the project\'s configuration at the commit.',
  },
];

/**
 * forge-phase: one (phase, project) task on the `ci` hot pool (docs/templates/forge-phase.md).
 * forge-pipeline fans it out over each group slot; submitted alone from the UI it runs one task.
 */
export function phaseTemplate(config: PlatformConfig): IWorkflowTemplate {
  const phase = dispatchTemplate(config, {
    name: PHASE_STEP,
    kind: 'phase',
    pool: 'ci',
    inputs: phaseInputs,
    outputs: [],
    timeoutSeconds: config.pipeline.activeDeadlineSeconds,
  });
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: PHASE_TEMPLATE,
      namespace: config.namespace,
      labels: standardLabels('phase'),
      annotations: {
        'workflows.argoproj.io/title': 'Forge phase task',
        'workflows.argoproj.io/description':
          "Runs one project's steps of one phase on the `ci` hot worker pool: the steps come from the project's `.forge/project.cue` at the commit, " +
          'run by priority (equal priorities together), and the first failure stops the task. The log streams here as the steps run.',
      },
    },
    spec: {
      entrypoint: PHASE_STEP,
      serviceAccountName: config.serviceAccounts.workflow,
      activeDeadlineSeconds: config.pipeline.activeDeadlineSeconds,
      arguments: { parameters: workflowArguments(phaseInputs) },
      workflowMetadata: workflowMetadata('Phase', 'Task `{{workflow.parameters.task}}` at commit `{{workflow.parameters.commit}}`'),
      templates: [phase],
    },
  };
}
