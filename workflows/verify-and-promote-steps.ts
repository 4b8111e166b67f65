import type { PlatformConfig, PromotionConfig } from '../cdk8s/platform-config.ts';
import type { StepInput, StepOutput, StepTemplateProps } from '../cdk8s/constructs/step-template.ts';
import { outputFile, type OutputName, type StepTool } from '../steps/lib/contract.ts';
import { SETTINGS_FILE } from '../steps/lib/promotion-settings.ts';

/**
 * The step templates of forge-verify-and-promote (verify-and-promote.ts wires them into its DAG):
 * the submit form's inputs, the seven gates and steps, and the exit handler's audit step.
 */
/** The ConfigMap holding the named promotion settings (cdk8s/charts/promotion.ts). */
export const SETTINGS_CONFIGMAP = 'forge-promotion-settings';

const settingsDir = SETTINGS_FILE.slice(0, SETTINGS_FILE.lastIndexOf('/'));
const KEY_DIR = '/etc/forge/promotion-key';
const REGISTRY_AUTH_DIR = '/etc/forge/registry-auth';

/** The submit form: an image and names of settings the platform team configured. */
export function inputs(p: PromotionConfig): StepInput[] {
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
export function steps(config: PlatformConfig, p: PromotionConfig): StepTemplateProps[] {
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
export function auditStep(p: PromotionConfig): StepTemplateProps {
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
