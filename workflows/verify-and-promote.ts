import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1DAGTask as IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { stepTemplate, toInputParameter, workflowArguments } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { auditStep, inputs, steps } from './verify-and-promote-steps.ts';

export const VERIFY_AND_PROMOTE_TEMPLATE = 'forge-verify-and-promote';
/** The template inside it that forge-release references for each image it built. */
export const PROMOTE_STEP = 'main';
export { SETTINGS_CONFIGMAP } from './verify-and-promote-steps.ts';

const param = (name: string, value: string) => ({ name, value });
const from = (task: string, output: string) => `{{tasks.${task}.outputs.parameters.${output}}}`;

/** The DAG: resolve, then the three gates together, then copy → attest → record. */
function dag(): IDAGTask[] {
  return [
    { name: 'resolve', template: 'resolve', arguments: { parameters: [param('image', '{{inputs.parameters.image}}')] } },
    {
      name: 'verify',
      template: 'verify',
      depends: 'resolve',
      arguments: { parameters: [param('image', from('resolve', 'reference')), param('verification-key', '{{inputs.parameters.verification-key}}')] },
    },
    {
      name: 'scan',
      template: 'scan',
      depends: 'resolve',
      arguments: {
        parameters: [
          param('image', from('resolve', 'reference')),
          param('scan-policy', '{{inputs.parameters.scan-policy}}'),
        ],
      },
    },
    {
      name: 'policy',
      template: 'policy',
      depends: 'resolve',
      arguments: { parameters: [param('image-info', from('resolve', 'image-info')), param('promotion-policy', '{{inputs.parameters.promotion-policy}}')] },
    },
    {
      name: 'copy',
      template: 'copy',
      depends: 'verify && scan && policy',
      arguments: { parameters: [param('image', from('resolve', 'reference')), param('target-repository', from('resolve', 'trusted-repository'))] },
    },
    {
      name: 'attest',
      template: 'attest',
      depends: 'copy',
      arguments: {
        parameters: [
          param('image', from('copy', 'trusted-reference')),
          param('source', from('resolve', 'reference')),
          param('signer', from('verify', 'signer')),
          param('scan-summary', from('scan', 'scan-summary')),
          param('policy-results', from('policy', 'policy-results')),
        ],
      },
    },
    {
      name: 'record',
      template: 'record',
      depends: 'attest',
      arguments: {
        parameters: [
          param('trusted-reference', from('copy', 'trusted-reference')),
          param('source-reference', from('resolve', 'reference')),
          param('signer', from('verify', 'signer')),
          param('scan-summary', from('scan', 'scan-summary')),
          param('policy-results', from('policy', 'policy-results')),
          param('attestation-digest', from('attest', 'attestation-digest')),
        ],
      },
    },
  ];
}

/**
 * forge-verify-and-promote (seed 000 §4.3, docs/verify-and-promote.md): only signed, scanned,
 * policy-clean images reach the trusted registry, copied by exact digest, attested and recorded.
 */
export function verifyAndPromoteTemplate(config: PlatformConfig): IWorkflowTemplate | undefined {
  const p = config.promotion;
  if (!p) return undefined;
  const args = inputs(p);
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: VERIFY_AND_PROMOTE_TEMPLATE,
      namespace: config.namespace,
      labels: standardLabels('verify-and-promote'),
      annotations: {
        'workflows.argoproj.io/title': 'Verify and promote an image',
        'workflows.argoproj.io/description':
          `Resolves the image to its digest, verifies its cosign signature, gates it on its vulnerability attestation (signed by the platform scanner) and the promotion policies, ` +
          `then copies the exact digest from ${config.registries.incoming} to ${config.registries.trusted}, attests the promotion and records it in the allowlist.`,
      },
    },
    spec: {
      entrypoint: PROMOTE_STEP,
      serviceAccountName: config.serviceAccounts.workflow,
      activeDeadlineSeconds: p.timeoutSeconds,
      arguments: { parameters: workflowArguments(args) },
      workflowMetadata: {
        labels: { 'app.kubernetes.io/part-of': 'forge-workflows', 'forge.dev/stage': 'verify-and-promote' },
        annotations: {
          'workflows.argoproj.io/title': 'Promote {{workflow.parameters.image}}',
          'workflows.argoproj.io/description': 'Key `{{workflow.parameters.verification-key}}`, scan policy `{{workflow.parameters.scan-policy}}`, promotion policy `{{workflow.parameters.promotion-policy}}`',
        },
      },
      // A run that does not succeed leaves its reason in the audit trail, like `forge promote` does.
      onExit: 'exit-handler',
      templates: [
        {
          name: 'exit-handler',
          dag: {
            tasks: [
              {
                name: 'audit',
                template: 'audit',
                when: '{{workflow.status}} != Succeeded',
                arguments: { parameters: [param('source-reference', '{{workflow.parameters.image}}'), param('failures', '{{workflow.failures}}')] },
              },
            ],
          },
        },
        {
          // Workflow arguments fill the entrypoint's inputs; forge-release passes its own (templateRef).
          name: PROMOTE_STEP,
          inputs: { parameters: args.map(toInputParameter) },
          dag: { tasks: dag() },
          outputs: {
            parameters: [
              { name: 'trusted-reference', description: 'The promoted image (`…@sha256:…`).', valueFrom: { parameter: from('copy', 'trusted-reference'), default: '' } },
              { name: 'attestation-digest', description: 'Digest of the promotion attestation (its layer in the `sha256-….att` manifest).', valueFrom: { parameter: from('attest', 'attestation-digest'), default: '' } },
              { name: 'record-id', description: 'Id of the allowlist record.', valueFrom: { parameter: from('record', 'record-id'), default: '' } },
            ],
          },
        },
        ...[...steps(config, p), auditStep(p)].map((s) => stepTemplate(config, s)),
      ],
    },
  };
}
