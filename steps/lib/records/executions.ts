import type { Job, JobResult } from '../pool/job.ts';
import { redactUrl } from '../log.ts';
import type { Database } from './db.ts';

/**
 * Pipeline runs and the task and step executions of the hot pools (migrations 003, 004): what a
 * worker writes when it finishes a job, before it acknowledges it. Idempotent per job id and round:
 * a job that is delivered or dispatched again finds its row, and its first record stands; a job
 * run again after it failed (`argo retry`) is its next round, with a row of its own.
 */
export interface TaskExecution {
  jobId: string;
  runId: string;
  taskId: string;
  pool: string;
  kind: string;
  status: string;
  exitCode: number;
  message: string;
  worker: string;
  attempt: number;
  round: number;
  cacheHit: boolean | null;
  steps: { name: string; stage: number; status: string; exitCode: number | null; durationMs: number }[];
}

export class ExecutionRecords {
  constructor(private readonly db: Database) {}

  /** Records the job's run (first job of a run creates it), its task and its steps; returns false when the job's round was recorded before. */
  async recordJob(job: Job, result: JobResult): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO pipeline_runs (run_id, repository, commit_sha) VALUES ($1, $2, $3) ON CONFLICT (run_id) DO NOTHING', [job.runId, redactUrl(job.repository), job.commit]);
      const inserted = await tx.query<{ job_id: string }>(
        `INSERT INTO task_executions (job_id, run_id, task_id, pool, kind, status, exit_code, message, worker, attempt, round, cache_hit, started_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (job_id, round) DO NOTHING
         RETURNING job_id`,
        [job.id, job.runId, job.taskId, job.pool, job.task.kind, result.status, result.exitCode, result.message, result.worker, result.attempt, result.round ?? 0, result.cacheHit ?? null, result.startedAt, result.finishedAt],
      );
      if (inserted.rows.length === 0) return false;
      for (const s of result.steps) {
        await tx.query('INSERT INTO step_executions (job_id, round, name, stage, status, exit_code, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)', [job.id, result.round ?? 0, s.name, s.stage, s.status, s.exitCode, s.durationMs]);
      }
      return true;
    });
  }

  /** The job's execution: its latest round, or the round asked for. */
  async task(jobId: string, round?: number): Promise<TaskExecution | undefined> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      round === undefined ? 'SELECT * FROM task_executions WHERE job_id = $1 ORDER BY round DESC LIMIT 1' : 'SELECT * FROM task_executions WHERE job_id = $1 AND round = $2',
      round === undefined ? [jobId] : [jobId, round],
    );
    const r = rows[0];
    if (!r) return undefined;
    const steps = await this.db.query<Record<string, unknown>>('SELECT * FROM step_executions WHERE job_id = $1 AND round = $2 ORDER BY stage, name', [jobId, r.round]);
    return {
      jobId: String(r.job_id), runId: String(r.run_id), taskId: String(r.task_id), pool: String(r.pool), kind: String(r.kind), status: String(r.status),
      exitCode: Number(r.exit_code), message: String(r.message), worker: String(r.worker), attempt: Number(r.attempt), round: Number(r.round), cacheHit: r.cache_hit === null ? null : Boolean(r.cache_hit),
      steps: steps.rows.map((s) => ({ name: String(s.name), stage: Number(s.stage), status: String(s.status), exitCode: s.exit_code === null ? null : Number(s.exit_code), durationMs: Number(s.duration_ms) })),
    };
  }

  /** How many task executions a run has recorded. */
  async countTasks(runId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM task_executions WHERE run_id = $1', [runId]);
    return rows[0]?.n ?? 0;
  }
}
