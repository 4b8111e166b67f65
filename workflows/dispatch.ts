import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { NATS_CLIENT_LABEL, natsUrl } from '../cdk8s/platform-config-pools.ts';
import { stepTemplate, type ITemplate, type StepInput, type StepOutput } from '../cdk8s/constructs/step-template.ts';
import { basename, dirname } from 'node:path';
import { dispatcherUser, NATS_PASSWORD_FILE } from '../steps/lib/pool/permissions.ts';
import type { Job } from '../steps/lib/pool/job.ts';
import type { PoolName } from '../steps/lib/pool/pools.ts';

/**
 * A pool-backed task: the small dispatcher container (`forge dispatch`) that queues the job on
 * a hot pool, streams its log to the pod's stdout (so `argo logs` and the UI show it), reports
 * progress and exits with the job's status. The run id is the workflow's uid, so the job id is
 * the same for a retried dispatcher, which then attaches to its job instead of queueing another.
 */
export interface DispatchTemplateProps {
  name: string;
  kind: Job['task']['kind'];
  pool: PoolName;
  inputs: StepInput[];
  outputs: StepOutput[];
  /** Output artifacts (kept when an artifact repository is configured). */
  artifacts?: { name: string; file: string; description: string }[];
  /** Further environment: Argo variables only (`{{workflow.name}}`), never a submitter's value. */
  env?: Record<string, string>;
  /** The pod's deadline: the job's own timeout is enforced by the dispatcher and the worker. */
  timeoutSeconds: number;
}

export function dispatchTemplate(config: PlatformConfig, props: DispatchTemplateProps): ITemplate {
  const usersSecret = config.pools.nats.usersSecret;
  return stepTemplate(config, {
    name: props.name,
    command: 'dispatch',
    inputs: props.inputs,
    settings: {
      kind: props.kind,
      pool: props.pool,
      'nats-url': natsUrl(config.pools, config.namespace),
      ...(usersSecret ? { 'nats-user': dispatcherUser(props.pool), 'nats-password-file': NATS_PASSWORD_FILE } : {}),
    },
    // This pool's dispatcher password only (steps/lib/pool/permissions.ts: it may queue on this pool alone).
    ...(usersSecret ? { mounts: [{ name: 'nats-password', mountPath: dirname(NATS_PASSWORD_FILE), secret: usersSecret, items: [{ key: dispatcherUser(props.pool), path: basename(NATS_PASSWORD_FILE) }] }] } : {}),
    env: { FORGE_RUN_ID: '{{workflow.uid}}', FORGE_WORKFLOW_NAME: '{{workflow.name}}', ...props.env },
    outputs: props.outputs,
    ...(props.artifacts ? { artifacts: props.artifacts } : {}),
    timeoutSeconds: props.timeoutSeconds,
    // Pod lost or evicted: the retried dispatcher finds its job by id and attaches to it.
    retries: 2,
    resources: config.pools.dispatcher.resources,
    annotations: { 'workflows.argoproj.io/progress': '0/1' },
    // The NATS NetworkPolicy lets in the pods with this label (cdk8s/charts/nats.ts).
    labels: { [NATS_CLIENT_LABEL]: 'true' },
  });
}
