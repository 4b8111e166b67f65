import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1Template as ITemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Template';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1Parameter as IParameter } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Parameter';
import type { IComGithubArgoprojArgoWorkflowsV4PkgApisWorkflowV1alpha1Artifact as IArtifact } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Artifact';
import { imageReference, type PlatformConfig } from '../platform-config.ts';
import { envName, OUTPUTS_DIR } from '../../steps/lib/contract.ts';
import { standardLabels } from './labels.ts';
import { restrictedContainer } from './security-context.ts';

export type { ITemplate, IParameter, IArtifact };

export interface StepInput {
  /** Argo input parameter name (kebab-case); reaches the tool as env FORGE_<NAME>. */
  name: string;
  description: string;
  /** Omit for a required input. Empty string means "not set" to the tools. */
  default?: string;
  enum?: string[];
}

export interface StepOutput {
  name: string;
  description: string;
  /** File name under OUTPUTS_DIR the tool writes. */
  file: string;
  /** Value when the step did not run or did not write the file (consumers of skipped nodes read it). */
  default: string;
}

export interface StepTemplateProps {
  /** Template name (also the Argo node name in the UI). */
  name: string;
  /** `forge <command>` run by the container. */
  command: string;
  inputs: StepInput[];
  /** Constant settings, passed as env FORGE_<NAME>=value (from platform config, never from users). */
  settings?: Record<string, string>;
  outputs: StepOutput[];
  /** Large results kept as artifacts when an artifact repository is configured. */
  artifacts?: { name: string; file: string; description: string }[];
  /** Deadline of one attempt, seconds. */
  timeoutSeconds: number;
  /** Retries on infrastructure errors (pod evicted, node lost); a failing tool is not retried. */
  retries?: number;
  /** Further environment variables: Argo variables (`{{workflow.name}}`) or fixed paths. */
  env?: Record<string, string>;
  /** ConfigMaps and Secrets mounted read-only (settings, keys). */
  mounts?: { name: string; mountPath: string; configMap?: string; secret?: string; items?: { key: string; path: string }[] }[];
  /**
   * Environment variables read from Secrets (credentials never travel as parameters). `optional`:
   * the pod starts without the variable when the Secret or key is missing (the tool then says so)
   * instead of waiting in CreateContainerConfigError until its deadline.
   */
  secretEnv?: { name: string; secret: string; key: string; optional?: boolean }[];
  /** Run this step's pod as another account than the workflow's (a narrower or cloud identity). */
  serviceAccountName?: string;
  /** Requests and limits, when not the platform's step default (dispatchers are smaller). */
  resources?: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  /** Further pod labels (what a NetworkPolicy selects on). */
  labels?: Record<string, string>;
  /** Template annotations (`workflows.argoproj.io/progress` for an initial progress, say). */
  annotations?: Record<string, string>;
  /**
   * Argo mutexes this step holds while it runs, across all workflows of the namespace; names may
   * use the step's inputs (`{{inputs.parameters.image}}`), so one lock per image, say.
   */
  mutexes?: string[];
}

/**
 * The one way a containerized step tool becomes an Argo template. It fixes what every step must
 * have: the pinned step image, inputs passed as environment variables (never spliced into a
 * shell), outputs read from files with defaults, a non-root read-only container with no
 * capabilities, requests and limits, and a writable /tmp.
 */
export function stepTemplate(config: PlatformConfig, props: StepTemplateProps): ITemplate {
  const uid = config.steps.runAsUser;
  const artifacts: IArtifact[] = config.artifactRepositoryRef
    ? (props.artifacts ?? []).map((a) => ({ name: a.name, path: `${OUTPUTS_DIR}/${a.file}`, archive: { none: {} } }))
    : [];
  return {
    name: props.name,
    metadata: { labels: { ...standardLabels(props.name), ...props.labels }, ...(props.annotations ? { annotations: { ...props.annotations } } : {}) },
    inputs: { parameters: props.inputs.map(toInputParameter) },
    outputs: {
      parameters: props.outputs.map<IParameter>((o) => ({
        name: o.name,
        description: o.description,
        valueFrom: { path: `${OUTPUTS_DIR}/${o.file}`, default: o.default },
      })),
      ...(artifacts.length > 0 ? { artifacts } : {}),
    },
    ...(props.serviceAccountName ? { serviceAccountName: props.serviceAccountName } : {}),
    ...(props.mutexes?.length ? { synchronization: { mutexes: props.mutexes.map((name) => ({ name })) } } : {}),
    activeDeadlineSeconds: String(props.timeoutSeconds),
    ...(props.retries ? { retryStrategy: { limit: String(props.retries), retryPolicy: 'OnError' } } : {}),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: uid,
      fsGroup: uid,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumes: [
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
      ...(props.mounts ?? []).map((m) =>
        m.secret
          ? { name: m.name, secret: { secretName: m.secret, defaultMode: 0o440, ...(m.items ? { items: m.items } : {}) } }
          : { name: m.name, configMap: { name: m.configMap! } },
      ),
    ],
    container: {
      name: 'main',
      image: imageReference(config.images.steps),
      imagePullPolicy: config.imagePullPolicy,
      command: ['forge', props.command],
      env: [
        ...props.inputs.map((i) => ({ name: envName(i.name), value: `{{inputs.parameters.${i.name}}}` })),
        ...Object.entries(props.env ?? {}).map(([name, value]) => ({ name, value })),
        ...Object.entries(props.settings ?? {}).map(([k, value]) => ({ name: envName(k), value })),
        { name: envName('outputs-dir'), value: OUTPUTS_DIR },
        ...(config.registries.insecure.length > 0 ? [{ name: 'FORGE_INSECURE_REGISTRIES', value: config.registries.insecure.join(',') }] : []),
        { name: 'HOME', value: '/tmp' },
        ...(props.secretEnv ?? []).map((e) => ({ name: e.name, valueFrom: { secretKeyRef: { name: e.secret, key: e.key, ...(e.optional ? { optional: true } : {}) } } })),
      ],
      resources: {
        requests: { ...(props.resources ?? config.steps.resources).requests },
        limits: { ...(props.resources ?? config.steps.resources).limits },
      },
      securityContext: restrictedContainer(uid),
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(props.mounts ?? []).map((m) => ({ name: m.name, mountPath: m.mountPath, readOnly: true }))],
    },
  };
}

/** An input parameter with its description, default and enum (what the UI's submit form shows). */
export function toInputParameter(i: StepInput): IParameter {
  return {
    name: i.name,
    description: i.description,
    ...(i.default !== undefined ? { default: i.default } : {}),
    ...(i.enum ? { enum: i.enum } : {}),
  };
}

/** Workflow-level arguments for the same inputs, so the template is submittable from the UI. */
export function workflowArguments(inputs: StepInput[]): IParameter[] {
  return inputs.map((i) => ({
    name: i.name,
    description: i.description,
    // Required inputs carry no value: Argo then refuses a submission that does not give one.
    ...(i.default !== undefined ? { value: i.default } : {}),
    ...(i.enum ? { enum: i.enum } : {}),
  }));
}
