import { createHash } from 'node:crypto';
import { z } from 'zod';
import { POOL_NAMES } from './pools.ts';

/**
 * What travels between dispatchers and workers, validated with zod on both sides: a job, its
 * state in the job bucket, its result and its log lines. A payload that fails these schemas is
 * refused (the worker `term()`s it with the reason), never half-run.
 */

/** A run id: the workflow uid on Argo; a subject token (no `.`, `*`, `>` or space). */
export const runIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, - or _ (a workflow uid)');
/** A task id: discovery's `<phase>-<project>`, a Kubernetes name part. */
export const taskIdSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be lower-case kebab-case, at most 63 characters');
const sha = z.string().regex(/^[0-9a-f]{40}$/, 'must be a full 40-character commit SHA');
const name = taskIdSchema;
const relativePath = z
  .string()
  .max(1024)
  .refine((p) => p === '.' || (!p.startsWith('/') && !p.split('/').some((s) => s === '' || s === '.' || s === '..')), 'must be a relative path inside the repository');

/** The deterministic job id: the same workflow task always names the same job. */
export function jobId(runId: string, taskId: string): string {
  return `${runIdSchema.parse(runId)}.${taskIdSchema.parse(taskId)}`;
}

const gitRef = z.string().max(255).regex(/^[A-Za-z0-9][A-Za-z0-9._/+-]*$/, 'must be a git branch or tag name').optional();
/** What every release task names: the project and what triggered the release. */
const releaseFields = {
  project: name,
  path: relativePath,
  branch: gitRef,
  tag: gitRef,
  /** A release asked for by a person (forge-release's `manual`), not by the project's triggers. */
  manual: z.boolean().default(false),
};
const deployFields = {
  project: name,
  environment: name,
  /** The release as a person names it: its commit SHA (a prefix of 7 or more), number or alias. */
  release: z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9._/+-]*$/, 'must be a release number, alias or commit SHA'),
  /** Who asked for it, as the workflow knows them. */
  deployedBy: z.string().min(1).max(255),
  rollback: z.boolean().default(false),
};

/**
 * Task ids of the release stage: parts joined by `--`. Forge names never hold `--`, so these can
 * never equal a phase task's `<phase>-<project>` in the same run (job ids are run id + task id).
 * Ids over 63 characters keep a readable start and end in a hash of the whole.
 */
export function stageTaskId(stage: 'plan' | 'artifact' | 'release' | 'check' | 'deploy', ...parts: string[]): string {
  const id = [stage, ...parts].join('--');
  if (id.length <= 63) return id;
  return `${id.slice(0, 54).replace(/-+$/, '')}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

export const taskSchema = z.discriminatedUnion('kind', [
  /** One phase of one project: its steps come from the project's configuration at the commit. */
  z.object({ kind: z.literal('phase'), phase: name, project: name, path: relativePath }),
  /** A pool health check: a worker answers at once, without a checkout (`forge dispatch ping`). */
  z.object({ kind: z.literal('ping') }),
  /** Which artifacts one project's release builds and which images it promotes (forge-release's first node). */
  z.object({ kind: z.literal('release-plan'), ...releaseFields }),
  /** One artifact of a release: produced, published, signed and tracked (the artifact pool). */
  z.object({ kind: z.literal('artifact'), ...releaseFields, artifact: name }),
  /** The release itself: rendered, recorded, packed as the Release OCI image and signed. */
  z.object({ kind: z.literal('release'), ...releaseFields }),
  /** Whether a release may deploy to an environment, and whether a person must approve first. */
  z.object({ kind: z.literal('deploy-plan'), ...deployFields }),
  /** The deployment: the environment's GitOps pointer names the release. */
  z.object({ kind: z.literal('deploy'), ...deployFields }),
  /** Discovery of the repository at the commit. */
  z.object({
    kind: z.literal('discover'),
    branch: z.string().max(255).optional(),
    tag: z.string().max(255).optional(),
    paths: z.array(z.string().max(255)).max(100).optional(),
    slots: z.number().int().min(1).max(50).optional(),
  }),
]);
export type JobTask = z.infer<typeof taskSchema>;

export const jobSchema = z.object({
  apiVersion: z.literal('forge.dev/v1alpha1'),
  kind: z.literal('Job'),
  id: z.string().max(140),
  runId: runIdSchema,
  taskId: taskIdSchema,
  pool: z.enum(POOL_NAMES),
  /** A git URL the worker can fetch (credentials never in it: the worker's own git config supplies them). */
  repository: z.string().min(1).max(2048),
  commit: sha,
  timeoutMs: z.number().int().min(1000).max(24 * 3600_000),
  task: taskSchema,
  /** The Argo workflow's name (provenance names it beside the run id, the workflow's uid). */
  workflowName: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a workflow name').optional(),
  createdAt: z.string(),
}).refine((j) => j.id === `${j.runId}.${j.taskId}`, { message: 'id must be <runId>.<taskId>', path: ['id'] });
export type Job = z.infer<typeof jobSchema>;

export const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed-out', 'error'] as const;
export type Outcome = (typeof TERMINAL)[number];
export const isTerminal = (state: string): state is Outcome => (TERMINAL as readonly string[]).includes(state);

export const stepResultSchema = z.object({
  name: z.string(),
  stage: z.number().int(),
  status: z.enum(['succeeded', 'failed', 'cancelled', 'timed-out', 'skipped']),
  exitCode: z.number().int().nullable(),
  durationMs: z.number().int().min(0),
});
export type StepResult = z.infer<typeof stepResultSchema>;

export const resultSchema = z.object({
  jobId: z.string(),
  status: z.enum(TERMINAL),
  /** What a person reads in the Argo UI: the first failing step and why, or what was done. */
  message: z.string().max(4000),
  exitCode: z.number().int(),
  steps: z.array(stepResultSchema),
  /** Output file name → content, written by the dispatcher under its outputs directory. */
  outputs: z.record(z.string(), z.string()),
  worker: z.string(),
  attempt: z.number().int().min(1),
  /** The job's round (see the state's `round`). */
  round: z.number().int().min(0).optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Git cache: whether the commit was already in the worker's mirror. */
  cacheHit: z.boolean().optional(),
});
export type JobResult = z.infer<typeof resultSchema>;

export const jobStateSchema = z.object({
  jobId: z.string(),
  state: z.enum(['queued', 'running', ...TERMINAL]),
  subject: z.string(),
  pool: z.enum(POOL_NAMES),
  /** Deliveries so far that started the job. */
  attempt: z.number().int().min(0),
  /**
   * How many times the job was queued again after it ended without success (a retried task:
   * `argo retry` of the workflow); 0 or absent for the first.
   */
  round: z.number().int().min(0).optional(),
  worker: z.string().optional(),
  /** Set by the dispatcher (Argo stopped the task) or the worker's run watch; the worker stops the job. */
  cancel: z.object({ reason: z.string().max(1000), at: z.string() }).optional(),
  /** The result inline, or the object holding it when it is over the inline limit. */
  result: resultSchema.optional(),
  resultObject: z.object({ name: z.string(), bytes: z.number().int() }).optional(),
  /** Steps done / total, for the dispatcher's Argo progress. */
  progress: z.object({ done: z.number().int(), total: z.number().int() }).optional(),
  updatedAt: z.string(),
});
export type JobState = z.infer<typeof jobStateSchema>;

/**
 * The header of a job message that names the revision of the state its dispatcher created: the
 * worker claims the job by compare-and-set on that revision without reading the state first (a
 * stale or wrong revision only costs the read).
 */
export const STATE_REVISION_HEADER = 'Forge-State-Revision';

/** The state of a job just queued: what a dispatcher creates, and what a claim by revision assumes. */
export function queuedState(job: Job, subject: string): JobState {
  return { jobId: job.id, state: 'queued', subject, pool: job.pool, attempt: 0, updatedAt: job.createdAt };
}

export const runCancelSchema = z.object({ reason: z.string().max(1000), taskId: z.string(), at: z.string() });
export type RunCancel = z.infer<typeof runCancelSchema>;

/** One log line of a job, in order (`seq`), tagged with its step and stream. */
export const logLineSchema = z.object({
  seq: z.number().int().min(0),
  attempt: z.number().int().min(1),
  step: z.string().optional(),
  stream: z.enum(['out', 'err', 'forge']),
  line: z.string(),
});
export type LogLine = z.infer<typeof logLineSchema>;
