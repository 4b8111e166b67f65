import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1DAGTask as IDAGTask } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/DAGTask';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { stepTemplate, toInputParameter, workflowArguments, type StepInput, type StepOutput, type StepTemplateProps } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig, PromotionConfig } from '../cdk8s/platform-config.ts';
import { outputFile, type OutputName, type StepTool } from '../steps/lib/contract.ts';
import { SETTINGS_FILE } from '../steps/lib/promotion-settings.ts';

export const VERIFY_AND_PROMOTE_TEMPLATE = 'forge-verify-and-promote';
/** The template inside it that forge-release references for each image it built. */
export const PROMOTE_STEP = 'main';
/** The ConfigMap holding the named promotion settings (cdk8s/charts/promotion.ts). */
export const SETTINGS_CONFIGMAP = 'forge-promotion-settings';

const settingsDir = SETTINGS_FILE.slice(0, SETTINGS_FILE.lastIndexOf('/'));
const KEY_DIR = '/etc/forge/promotion-key';
const REGISTRY_AUTH_DIR = '/etc/forge/registry-auth';

/** The submit form: an image and names of settings the platform team configured. */
function inputs(p: PromotionConfig): StepInput[] {
  const names = (m: Record<string, unknown>) => Object.keys(m).sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)));
  return [
    { name: 'image', description: 'Image in the incoming registry (`<incoming>/<path>:<tag>` or `@sha256:…`). A tag is resolved once; only that digest is used afterwards.' },
    { name: 'verification-key', description: 'Which configured key must have signed the image.', default: names(p.verificationKeys)[0]!, enum: names(p.verificationKeys) },
    { name: 'scan-policy', description: 'Which configured vulnerability policy applies (threshold, unfixed, exceptions).', default: names(p.scanPolicies)[0]!, enum: names(p.scanPolicies) },
    { name: 'promotion-policy', description: 'Which configured promotion policy applies (size limit).', default: names(p.promotionPolicies)[0]!, enum: names(p.promotionPolicies) },
  ];
}

const workflowEnv = { FORGE_WORKFLOW_NAME: '{{workflow.name}}', FORGE_WORKFLOW_UID: '{{workflow.uid}}' };

/** An output of a tool's template, read from the file the contract names for it. */
const out = <T extends StepTool>(tool: T, name: OutputName<T>, description: string, fallback = ''): StepOutput => ({ name, file: outputFile(tool, name), description, default: fallback });
const input = (name: string, description: string): StepInput => ({ name, description });

/** The seven step templates; each is `forge <tool>` in the step image. */
function steps(config: PlatformConfig, p: PromotionConfig): StepTemplateProps[] {
  const settings = [{ name: 'settings', mountPath: settingsDir, configMap: SETTINGS_CONFIGMAP }];
  const settingsFile = { settings: SETTINGS_FILE };
  // Registry credentials for every step that talks to a registry (DOCKER_CONFIG, read by crane, oras, cosign).
  const auth = config.registries.credentialsSecret;
  const authMounts = auth ? [{ name: 'registry-auth', mountPath: REGISTRY_AUTH_DIR, secret: auth, items: [{ key: '.dockerconfigjson', path: 'config.json' }] }] : [];
  const authEnv: Record<string, string> = auth ? { DOCKER_CONFIG: REGISTRY_AUTH_DIR } : {};
  const t = Math.max(60, Math.floor(p.timeoutSeconds / 2));
  const signingKey = 'secret' in p.attestationSigningKey ? p.attestationSigningKey.secret : undefined;
  return [
    {
      name: 'resolve',
      command: 'resolve',
      inputs: [input('image', 'Image reference as submitted.')],
      settings: { incoming: config.registries.incoming, trusted: config.registries.trusted },
      mounts: authMounts,
      env: authEnv,
      outputs: [
        out('resolve', 'digest', 'The digest the reference resolved to.'),
        out('resolve', 'reference', '`<repository>@<digest>`: the only form used afterwards.'),
        out('resolve', 'image-info', 'JSON: platforms with digest, compressed size and user.', '{}'),
        out('resolve', 'trusted-repository', 'Repository in the trusted registry the image goes to.'),
      ],
      timeoutSeconds: 300,
      retries: 2,
    },
    {
      name: 'verify',
      command: 'verify',
      settings: settingsFile,
      inputs: [input('image', 'Image by digest.'), input('verification-key', 'Configured key name.')],
      outputs: [out('verify', 'signer', 'Who signed the image (key name and fingerprint, or certificate identity).')],
      mounts: [...settings, ...authMounts],
      env: authEnv,
      // The only pod that may read verification keys kept in the cluster (public-only Secrets or
      // ConfigMaps) or reach KMS public keys.
      serviceAccountName: config.serviceAccounts.signatureVerifier,
      timeoutSeconds: 300,
      retries: 2,
    },
    {
      name: 'scan',
      command: 'scan',
      settings: settingsFile,
      // No report input: the scan result is the image's vulnerability attestation, verified with the
      // platform scanner of the settings (docs/verify-and-promote.md, "The scan result: who may say what").
      inputs: [input('image', 'Image by digest; its vulnerability attestation is verified with the configured scanner.'), input('scan-policy', 'Configured scan policy name.')],
      outputs: [out('scan', 'scan-summary', 'JSON: counts per severity, verdict, blocking ids.', '{}'), out('scan', 'passed', 'true when the gate passed.', 'false')],
      mounts: [...settings, ...authMounts],
      env: authEnv,
      timeoutSeconds: t,
      retries: 2,
    },
    {
      name: 'policy',
      command: 'policy',
      settings: settingsFile,
      inputs: [input('image-info', 'image.json from resolve.'), input('promotion-policy', 'Configured promotion policy name.')],
      outputs: [out('policy', 'policy-results', 'JSON: each check with required and actual.', '[]')],
      mounts: settings,
      timeoutSeconds: 120,
    },
    {
      name: 'copy',
      command: 'copy',
      inputs: [input('image', 'Image by digest.'), input('target-repository', 'Trusted repository.')],
      outputs: [out('copy', 'trusted-reference', 'The promoted image: `<trusted repository>@<digest>`.')],
      mounts: authMounts,
      env: authEnv,
      // The same lock as attest (keyed by the source digest): the .sig/.att tags are copied only
      // where absent, and no attestation is signed between that check and the write.
      mutexes: ['forge-promote-{{inputs.parameters.image}}'],
      timeoutSeconds: t,
      retries: 2,
    },
    {
      name: 'attest',
      command: 'attest',
      inputs: [
        input('image', 'Trusted image by digest.'),
        input('source', 'Source reference by digest.'),
        input('signer', 'Verified signer.'),
        input('scan-summary', 'Scan summary JSON.'),
        input('policy-results', 'Policy results JSON.'),
      ],
      settings: { ...settingsFile, key: signingKey ? `${KEY_DIR}/${signingKey.key}` : (p.attestationSigningKey as { kms: string }).kms },
      env: { ...workflowEnv, ...authEnv },
      outputs: [out('attest', 'attestation-digest', 'Digest of the promotion attestation: its DSSE envelope layer in the `sha256-….att` manifest.')],
      mounts: [...settings, ...authMounts, ...(signingKey ? [{ name: 'promotion-key', mountPath: KEY_DIR, secret: signingKey.name }] : [])],
      secretEnv: signingKey ? [{ name: 'COSIGN_PASSWORD', secret: signingKey.name, key: signingKey.passwordKey }] : [],
      // The only pod holding the promotion key, under the only account with the signing identity.
      serviceAccountName: config.serviceAccounts.promotionSigner,
      // Promotions of one image running at once take turns here (and in copy, under the same
      // name): cosign adds an attestation by rewriting the .att manifest, and a registry tag has
      // no compare-and-swap. The second finds the first's attestation and signs none.
      mutexes: ['forge-promote-{{inputs.parameters.source}}'],
      timeoutSeconds: 300,
      retries: 2,
    },
    {
      name: 'record',
      command: 'record',
      inputs: [
        input('trusted-reference', 'Trusted image by digest.'),
        input('source-reference', 'Source reference by digest.'),
        input('signer', 'Verified signer.'),
        input('scan-summary', 'Scan summary JSON.'),
        input('policy-results', 'Policy results JSON.'),
        input('attestation-digest', 'Attestation digest.'),
      ],
      env: workflowEnv,
      outputs: [out('record', 'record-id', 'Id of the allowlist row.'), out('record', 'created', 'false when the digest was already promoted.', 'false')],
      secretEnv: [{ name: 'FORGE_DATABASE_URL', secret: p.database.secret.name, key: p.database.secret.key }],
      timeoutSeconds: 300,
      retries: 2,
    },
  ];
}

/** The exit handler's step: a refused or failed run is appended to the audit trail. */
function auditStep(p: PromotionConfig): StepTemplateProps {
  return {
    name: 'audit',
    command: 'record',
    inputs: [input('source-reference', 'The image as submitted.'), input('failures', "Argo's {{workflow.failures}}.")],
    env: workflowEnv,
    outputs: [out('record', 'event-id', 'Id of the audit event.')],
    secretEnv: [{ name: 'FORGE_DATABASE_URL', secret: p.database.secret.name, key: p.database.secret.key }],
    timeoutSeconds: 300,
    retries: 2,
  };
}

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
