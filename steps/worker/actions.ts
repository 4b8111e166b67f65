import { join } from 'node:path';
import type { Job } from '../lib/pool/job.ts';
import { actionCommand, type ActionSpec } from '../lib/step-command.ts';
import type { ResolvedSecret } from './secrets.ts';
import type { StepCommand } from './run-steps.ts';

/**
 * A phase step's action as a command line (steps/lib/step-command.ts: no shell, a small
 * environment), run from the project's directory in the job's worktree with the job's FORGE_*
 * facts.
 */
export type StepSpec = ActionSpec;

export interface ActionContext {
  job: Job & { task: { kind: 'phase' } };
  /** Which start of the job this is (1 first; a redelivery or a retried task counts on). */
  attempt: number;
  /** The job's worktree. */
  workspace: string;
  workerEnv: NodeJS.ProcessEnv;
  /** The Earthly binary (FORGE_TOOL_EARTHLY or `earthly` on PATH). */
  earthly: string;
}

export function stepCommand(step: StepSpec, secrets: ResolvedSecret[], ctx: ActionContext): StepCommand {
  const { job } = ctx;
  return actionCommand(step, secrets, {
    cwd: join(ctx.workspace, job.task.path),
    workerEnv: ctx.workerEnv,
    earthly: ctx.earthly,
    facts: {
      FORGE_RUN_ID: job.runId,
      FORGE_TASK_ID: job.taskId,
      FORGE_JOB_ID: job.id,
      FORGE_JOB_ATTEMPT: String(ctx.attempt),
      FORGE_COMMIT: job.commit,
      FORGE_PROJECT: job.task.project,
      FORGE_PHASE: job.task.phase,
      FORGE_STEP: step.name,
    },
  });
}
