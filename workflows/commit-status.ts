import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1DAGTask as IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';
import { stepTemplate, type ITemplate, type StepInput } from '../cdk8s/constructs/step-template.ts';
import type { GithubConfig } from '../cdk8s/platform-config-github.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';

/**
 * The `status` step of forge-pipeline's exit handler (when the platform config has a `github`
 * section): `forge status` sets the commit status `ci/catalyst-forge` to success, failure or error
 * from `{{workflow.status}}`, linking to the run in the Argo UI. The token comes from the Secret as
 * GITHUB_TOKEN, to this pod only. A status GitHub refuses fails this node visibly, but the task
 * continues on failure, so the exit handler and the run keep the outcome the pipeline had (Argo
 * marks a succeeded run Failed when its exit handler fails: workflow/controller/operator.go; a DAG
 * ignores a failed target task with continueOn: dag.go assessDAGPhase).
 */
export const STATUS_STEP = 'status';

const statusInputs: StepInput[] = [
  { name: 'state', description: "The run's status ({{workflow.status}}): Succeeded → success, Failed → failure, anything else → error." },
  { name: 'duration', description: 'Seconds the run took ({{workflow.duration}}), for the status message.', default: '' },
];

export function commitStatusTemplate(config: PlatformConfig, github: GithubConfig): ITemplate {
  return stepTemplate(config, {
    name: STATUS_STEP,
    command: 'status',
    inputs: statusInputs,
    settings: { 'api-url': github.apiUrl },
    env: {
      FORGE_REPO_URL: '{{workflow.parameters.repo-url}}',
      FORGE_COMMIT: '{{workflow.parameters.commit}}',
      FORGE_TARGET_URL: `${github.uiBaseUrl}/workflows/${config.namespace}/{{workflow.name}}`,
    },
    // Optional: a missing Secret fails this node at once, saying so, instead of a pod that waits
    // in CreateContainerConfigError until its deadline.
    secretEnv: [{ name: 'GITHUB_TOKEN', secret: github.tokenSecret.name, key: github.tokenSecret.key, optional: true }],
    outputs: [],
    // forge status retries GitHub's 5xx and network errors itself (1 + 2 + 4 s); this covers a lost pod.
    retries: 2,
    timeoutSeconds: 180,
  });
}

/** The exit handler's task: never turns a run's outcome into a failure of its own. */
export function commitStatusTask(): IDAGTask {
  return {
    name: STATUS_STEP,
    template: STATUS_STEP,
    continueOn: { failed: true, error: true },
    arguments: {
      parameters: [
        { name: 'state', value: '{{workflow.status}}' },
        { name: 'duration', value: '{{workflow.duration}}' },
      ],
    },
  };
}
