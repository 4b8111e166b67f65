/**
 * The hot worker pools and their JetStream resources (reference catalyst-forge-spec §2.3–2.5,
 * DESIGN.md "Hot worker pools"). Written once: the dispatcher, the worker, the charts (NATS
 * permissions, KEDA triggers) and the tests all read names and limits from here.
 */
export const POOL_NAMES = ['discovery', 'ci', 'artifact', 'release'] as const;
export type PoolName = (typeof POOL_NAMES)[number];

export interface PoolSpec {
  name: PoolName;
  /** Work-queue stream of the pool's jobs. */
  stream: string;
  /** Subject prefix: a job is published to `<prefix>.<runId>.<taskId>`, the consumer filters `<prefix>.>`. */
  subjectPrefix: string;
  /** The pool's one durable pull consumer (`<pool>-consumer`, as KEDA's trigger names it). */
  consumer: string;
  /** A job not taken within this time is dropped by the stream (ms). */
  maxAgeMs: number;
  maxMsgs: number;
  /** Default job timeout (ms) when the task gives none. */
  defaultTimeoutMs: number;
}

const MINUTE = 60_000;

// Stream names, subjects and limits: §2.5 (D2). The `ci` pool reads `pipeline.tasks.>`, not
// `pipeline.ci.*`: the platform documents' own trap (reference pools-gitops-submission §1).
export const POOLS: Record<PoolName, PoolSpec> = {
  discovery: { name: 'discovery', stream: 'pipeline-discovery', subjectPrefix: 'pipeline.discovery', consumer: 'discovery-consumer', maxAgeMs: 60 * MINUTE, maxMsgs: 1000, defaultTimeoutMs: 10 * MINUTE },
  ci: { name: 'ci', stream: 'pipeline-tasks', subjectPrefix: 'pipeline.tasks', consumer: 'ci-consumer', maxAgeMs: 120 * MINUTE, maxMsgs: 5000, defaultTimeoutMs: 30 * MINUTE },
  artifact: { name: 'artifact', stream: 'pipeline-artifacts', subjectPrefix: 'pipeline.artifacts', consumer: 'artifact-consumer', maxAgeMs: 60 * MINUTE, maxMsgs: 1000, defaultTimeoutMs: 20 * MINUTE },
  release: { name: 'release', stream: 'pipeline-releases', subjectPrefix: 'pipeline.releases', consumer: 'release-consumer', maxAgeMs: 60 * MINUTE, maxMsgs: 1000, defaultTimeoutMs: 15 * MINUTE },
};

/** A job is redelivered at most this often (then it stays in the stream, and the dispatcher says so). */
export const MAX_DELIVER = 3;

/**
 * Time a delivered job may go without an in-progress ack before JetStream hands it to another
 * worker. Workers ack `working()` every third of it while a job runs, so a long job keeps its
 * worker, and a worker that dies loses its job after this long — not after the job's timeout.
 */
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** Log lines of every job: `pipeline.logs.<jobId>`, kept a day for dispatchers that restart. */
export const LOG_STREAM = { stream: 'pipeline-logs', subjectPrefix: 'pipeline.logs', maxAgeMs: 24 * 60 * MINUTE, maxBytes: 1024 * 1024 * 1024, maxMsgSize: 64 * 1024 } as const;

/** Job state by job id: what makes a retried or restarted dispatcher attach instead of running twice. */
export const JOB_BUCKET = 'forge-jobs';
/** Cancels by run id: a failed task's run, which every worker watches. */
export const RUN_BUCKET = 'forge-runs';
/** Results too large for a message. */
export const RESULT_BUCKET = 'forge-results';
/** How long job state, cancels and large results are kept (7 days, as the platform's job table). */
export const STATE_TTL_MS = 7 * 24 * 60 * MINUTE;

export function poolSpec(name: string): PoolSpec {
  if (!(POOL_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown pool "${name}" (pools: ${POOL_NAMES.join(', ')})`);
  }
  return POOLS[name as PoolName];
}

/** Core subjects on which writers announce a change of a job or a run (no payload: watchers read the bucket). */
export const EVENTS_PREFIX = 'forge.events';
export const jobEvents = (jobId: string): string => `${EVENTS_PREFIX}.job.${jobId}`;
export const runEvents = (runId: string): string => `${EVENTS_PREFIX}.run.${runId}`;

export const jobSubject = (pool: PoolSpec, runId: string, taskId: string): string => `${pool.subjectPrefix}.${runId}.${taskId}`;
export const logSubject = (jobId: string): string => `${LOG_STREAM.subjectPrefix}.${jobId}`;
