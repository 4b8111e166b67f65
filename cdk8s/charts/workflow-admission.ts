import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { workflowTemplates } from '../../workflows/index.ts';
import { standardLabels } from '../constructs/labels.ts';
import type { PlatformConfig, WorkflowAdmissionConfig } from '../platform-config.ts';

/**
 * The Kyverno rule on Workflows and CronWorkflows for clusters whose Argo controller is older than
 * 3.7.14 / 4.0.5 / 4.1.0 (docs/installing.md). Those controllers honour
 * `templateReferencing: Secure` only half: a Workflow that references a library template may still
 * set `serviceAccountName`, `podSpecPatch`, `volumes`, `securityContext`, `templates`… and so run
 * any pod as any service account of the namespace (GHSA-3wf5-g532-rcrr / CVE-2026-31892,
 * GHSA-3775-99mw-8rp4). In the library's namespace this rule admits a Workflow (and a
 * CronWorkflow's `spec.workflowSpec`) only when
 *
 * 1. its spec sets only the fields a fixed controller allows (WORKFLOW_ALLOWED_FIELDS), and its
 *    `artifactGC` only `strategy` and `forceFinalizerRemoval` (the fixed controllers also refuse
 *    `artifactGC.serviceAccountName`, `podSpecPatch` and `podMetadata`: they reach the GC pod);
 * 2. it has a `workflowTemplateRef` naming one of the library's WorkflowTemplates, namespaced
 *    (no `clusterScope: true`: the library generates no ClusterWorkflowTemplate).
 *
 * An UPDATE is checked only when it changes the spec, so the controller can still update the
 * status of Workflows created before the rule. Two forms, as for the image policy
 * (cdk8s/charts/admission.ts): a `ValidatingPolicy` (policies.kyverno.io/v1, CEL, Kyverno ≥ 1.17)
 * or a `ClusterPolicy` (kyverno.io/v1, JMESPath, Kyverno 1.11–1.19).
 */

/** The WorkflowSpec fields Argo 3.7.14 / 4.0.5 / 4.1.0 let a Workflow set next to `workflowTemplateRef`. */
export const WORKFLOW_ALLOWED_FIELDS = [
  'arguments',
  'entrypoint',
  'shutdown',
  'suspend',
  'activeDeadlineSeconds',
  'priority',
  'ttlStrategy',
  'podGC',
  'volumeClaimGC',
  'archiveLogs',
  'workflowMetadata',
  'workflowTemplateRef',
  'metrics',
  'artifactGC',
] as const;

/** The `artifactGC` fields that do not reach the GC pod's identity or spec. */
export const ARTIFACT_GC_ALLOWED_FIELDS = ['strategy', 'forceFinalizerRemoval'] as const;

export const WORKFLOW_POLICY_NAME = 'forge-workflow-template-references';

interface Metadata {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** policies.kyverno.io/v1 ValidatingPolicy (the fields emitted here). */
export interface WorkflowValidatingPolicy {
  apiVersion: 'policies.kyverno.io/v1';
  kind: 'ValidatingPolicy';
  metadata: Metadata;
  spec: {
    validationActions: Array<'Deny' | 'Audit' | 'Warn'>;
    failurePolicy: 'Fail';
    evaluation: { background: { enabled: boolean } };
    matchConstraints: {
      resourceRules: Array<{ apiGroups: string[]; apiVersions: string[]; operations: Array<'CREATE' | 'UPDATE'>; resources: string[] }>;
    };
    matchConditions: Array<{ name: string; expression: string }>;
    variables: Array<{ name: string; expression: string }>;
    validations: Array<{ expression: string; messageExpression: string; reason: 'Forbidden' }>;
  };
}

interface DenyCondition {
  key: string;
  operator: 'AnyNotIn' | 'Equals';
  value: unknown;
}

interface ClusterPolicyRule {
  name: string;
  match: { any: Array<{ resources: { kinds: string[]; namespaces: string[]; operations: Array<'CREATE' | 'UPDATE'> } }> };
  validate: { message: string; deny: { conditions: { any: DenyCondition[] } } };
}

/** kyverno.io/v1 ClusterPolicy (the fields emitted here). */
export interface WorkflowClusterPolicy {
  apiVersion: 'kyverno.io/v1';
  kind: 'ClusterPolicy';
  metadata: Metadata;
  spec: { validationFailureAction: 'Enforce' | 'Audit'; background: false; failurePolicy: 'Fail'; rules: ClusterPolicyRule[] };
}

export type WorkflowAdmissionObject = WorkflowValidatingPolicy | WorkflowClusterPolicy;

/** Names of the library's WorkflowTemplates, the only ones a Workflow may reference. */
export function libraryTemplateNames(config: PlatformConfig): string[] {
  return workflowTemplates(config).map((t) => t.metadata.name!);
}

/** A CEL list literal of plain names (template and field names: `[a-z0-9-]`, camelCase). */
function celList(items: readonly string[]): string {
  for (const i of items) if (!/^[A-Za-z0-9-]+$/.test(i)) throw new Error(`not a plain name: ${JSON.stringify(i)}`);
  return `[${items.map((i) => `'${i}'`).join(', ')}]`;
}

function metadata(config: PlatformConfig): Metadata {
  return {
    name: WORKFLOW_POLICY_NAME,
    labels: standardLabels('workflow-admission'),
    annotations: {
      'policies.kyverno.io/title': 'Workflows only from the forge-workflows templates',
      'policies.kyverno.io/category': 'Argo Workflows',
      'policies.kyverno.io/severity': 'high',
      'policies.kyverno.io/subject': 'Workflow, CronWorkflow',
      'policies.kyverno.io/description':
        `In namespace ${config.namespace}, a Workflow or CronWorkflow must reference one of the forge-workflows WorkflowTemplates ` +
        `and may set only ${WORKFLOW_ALLOWED_FIELDS.join(', ')} (what Argo 3.7.14 / 4.0.5 / 4.1.0 allow under templateReferencing: Secure).`,
    },
  };
}

function validatingPolicy(config: PlatformConfig, a: WorkflowAdmissionConfig): WorkflowValidatingPolicy {
  const names = libraryTemplateNames(config);
  const spec = 'variables.spec';
  const ref = `${spec}.workflowTemplateRef`;
  return {
    apiVersion: 'policies.kyverno.io/v1',
    kind: 'ValidatingPolicy',
    metadata: metadata(config),
    spec: {
      validationActions: a.mode === 'Enforce' ? ['Deny'] : ['Audit', 'Warn'],
      failurePolicy: 'Fail',
      evaluation: { background: { enabled: false } },
      matchConstraints: {
        resourceRules: [{ apiGroups: ['argoproj.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['workflows', 'cronworkflows'] }],
      },
      matchConditions: [
        // CEL policies scope by namespace labels; the name (a DNS label) goes through a condition, as in admission.ts.
        { name: 'library-namespace', expression: `request.namespace == '${config.namespace}'` },
        // An UPDATE that leaves the spec alone (the controller writing status) is not re-judged.
        { name: 'spec-set-or-changed', expression: "request.operation == 'CREATE' || object.spec != oldObject.spec" },
      ],
      variables: [
        {
          name: 'spec',
          expression: "object.kind == 'CronWorkflow' ? (has(object.spec.workflowSpec) ? object.spec.workflowSpec : {}) : (has(object.spec) ? object.spec : {})",
        },
        { name: 'allowedFields', expression: celList(WORKFLOW_ALLOWED_FIELDS) },
        { name: 'templates', expression: celList(names) },
      ],
      validations: [
        {
          expression: `${spec}.all(field, field in variables.allowedFields)`,
          messageExpression:
            `object.kind + (object.kind == 'CronWorkflow' ? ' spec.workflowSpec' : ' spec') + ' may set only ' + variables.allowedFields.join(', ')` +
            ` + ' (templateReferencing: Secure); not allowed: ' + ${spec}.filter(field, !(field in variables.allowedFields)).join(', ')`,
          reason: 'Forbidden',
        },
        {
          expression: `!('artifactGC' in ${spec}) || ${spec}.artifactGC.all(field, field in ${celList(ARTIFACT_GC_ALLOWED_FIELDS)})`,
          messageExpression: `'artifactGC may set only ${ARTIFACT_GC_ALLOWED_FIELDS.join(', ')}; not allowed: ' + ${spec}.artifactGC.filter(field, !(field in ${celList(ARTIFACT_GC_ALLOWED_FIELDS)})).join(', ')`,
          reason: 'Forbidden',
        },
        {
          expression:
            `'workflowTemplateRef' in ${spec} && 'name' in ${ref} && ${ref}.name in variables.templates` +
            ` && (!('clusterScope' in ${ref}) || ${ref}.clusterScope == false)`,
          messageExpression: `'workflowTemplateRef must name one of the forge-workflows WorkflowTemplates (' + variables.templates.join(', ') + ', not cluster-scoped); got ' + ('workflowTemplateRef' in ${spec} && 'name' in ${ref} ? string(${ref}.name) : 'none') + ('workflowTemplateRef' in ${spec} && 'clusterScope' in ${ref} && ${ref}.clusterScope == true ? ' (cluster-scoped)' : '')`,
          reason: 'Forbidden',
        },
      ],
    },
  };
}

function clusterPolicy(config: PlatformConfig, a: WorkflowAdmissionConfig): WorkflowClusterPolicy {
  const names = libraryTemplateNames(config);
  const rules = (kind: 'Workflow' | 'CronWorkflow', path: string): ClusterPolicyRule[] => {
    const match = { any: [{ resources: { kinds: [`argoproj.io/v1alpha1/${kind}`], namespaces: [config.namespace], operations: ['CREATE', 'UPDATE'] as Array<'CREATE' | 'UPDATE'> } }] };
    const at = kind === 'CronWorkflow' ? `${kind} spec.workflowSpec` : `${kind} spec`;
    const prefix = kind.toLowerCase();
    return [
      {
        name: `${prefix}-allowed-fields`,
        match,
        validate: {
          message: `${at} may set only ${WORKFLOW_ALLOWED_FIELDS.join(', ')} (templateReferencing: Secure); found {{ keys(${path} || \`{}\`) }}`,
          deny: { conditions: { any: [{ key: `{{ keys(${path} || \`{}\`) }}`, operator: 'AnyNotIn', value: [...WORKFLOW_ALLOWED_FIELDS] }] } },
        },
      },
      {
        name: `${prefix}-artifact-gc`,
        match,
        validate: {
          message: `${at}.artifactGC may set only ${ARTIFACT_GC_ALLOWED_FIELDS.join(', ')}; found {{ keys(${path}.artifactGC || \`{}\`) }}`,
          deny: { conditions: { any: [{ key: `{{ keys(${path}.artifactGC || \`{}\`) }}`, operator: 'AnyNotIn', value: [...ARTIFACT_GC_ALLOWED_FIELDS] }] } },
        },
      },
      {
        name: `${prefix}-library-template`,
        match,
        validate: {
          message: `${at}.workflowTemplateRef must name one of the forge-workflows WorkflowTemplates (${names.join(', ')}, not cluster-scoped)`,
          deny: {
            conditions: {
              any: [
                { key: `{{ ${path}.workflowTemplateRef.name || '' }}`, operator: 'AnyNotIn', value: names },
                { key: `{{ ${path}.workflowTemplateRef.clusterScope || \`false\` }}`, operator: 'Equals', value: true },
              ],
            },
          },
        },
      },
    ];
  };
  return {
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: metadata(config),
    spec: {
      validationFailureAction: a.mode,
      // request.* exists only at admission.
      background: false,
      failurePolicy: 'Fail',
      rules: [...rules('Workflow', 'request.object.spec'), ...rules('CronWorkflow', 'request.object.spec.workflowSpec')],
    },
  };
}

/** The rule for a configuration: none when `argo.workflowAdmission` is absent or disabled. */
export function workflowAdmissionObjects(config: PlatformConfig): WorkflowAdmissionObject[] {
  const a = config.argo.workflowAdmission;
  if (!a?.enabled) return [];
  return [a.kind === 'ClusterPolicy' ? clusterPolicy(config, a) : validatingPolicy(config, a)];
}

/** Cluster-scoped Kyverno policy, one YAML file `workflow-admission.yaml`. */
export class WorkflowAdmissionChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { disableResourceNameHashes: true });
    for (const object of workflowAdmissionObjects(config)) new ApiObject(this, `${object.kind}-${object.metadata.name}`, object);
  }
}
