import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1WorkflowMetadata as IWorkflowMetadata } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowMetadata';

/**
 * Labels and annotations stamped on every Workflow a template creates, so the Argo UI can filter
 * runs by repository and commit and shows a readable title. Label values must be valid label
 * values, hence the expressions: the repository's last path segment, the commit as given.
 */
export function workflowMetadata(
  stage: string,
  description = 'Commit `{{workflow.parameters.commit}}` on branch `{{workflow.parameters.branch}}` {{workflow.parameters.tag}}',
  extraLabels: IWorkflowMetadata['labelsFrom'] = {},
): IWorkflowMetadata {
  return {
    labels: { 'app.kubernetes.io/part-of': 'forge-workflows', 'forge.dev/stage': stage.toLowerCase() },
    labelsFrom: {
      'forge.dev/repository': {
        expression: "sprig.trunc(63, sprig.regexReplaceAll('[^A-Za-z0-9_.-]', sprig.trimSuffix('.git', sprig.base(workflow.parameters['repo-url'])), '-'))",
      },
      'forge.dev/commit': { expression: "sprig.trunc(40, sprig.regexReplaceAll('[^0-9a-f]', workflow.parameters['commit'], ''))" },
      ...extraLabels,
    },
    annotations: {
      'workflows.argoproj.io/title': `${stage} · {{workflow.parameters.repo-url}}`,
      'workflows.argoproj.io/description': description,
      'forge.dev/repo-url': '{{workflow.parameters.repo-url}}',
    },
  };
}
