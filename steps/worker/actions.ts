import { join } from 'node:path';
import { ForgeError } from '../lib/errors.ts';
import type { Job } from '../lib/pool/job.ts';
import type { ResolvedSecret } from './secrets.ts';
import type { StepCommand } from './run-steps.ts';

/**
 * A step's action as a command line: no shell anywhere. `script` runs `target` with `args`;
 * `earthly` runs `earthly +target args` with the secrets in `EARTHLY_SECRETS` (Earthly's own
 * variable), so no value is ever on a command line. Each step sees a small environment: the
 * worker's PATH, HOME and locale, the job's FORGE_* facts, and its own secrets — not the
 * worker's other variables.
 */
export interface StepSpec {
  name: string;
  stage: number;
  action: 'earthly' | 'script';
  target: string;
  args: string[];
  timeoutMs: number;
}

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

const PASSED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'EARTHLY_BUILDKIT_HOST', 'DOCKER_HOST'];

export function stepCommand(step: StepSpec, secrets: ResolvedSecret[], ctx: ActionContext): StepCommand {
  const { job } = ctx;
  const cwd = join(ctx.workspace, job.task.path);
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(PASSED.filter((k) => ctx.workerEnv[k] !== undefined).map((k) => [k, ctx.workerEnv[k]])),
    CI: 'true',
    FORGE_RUN_ID: job.runId,
    FORGE_TASK_ID: job.taskId,
    FORGE_JOB_ID: job.id,
    FORGE_JOB_ATTEMPT: String(ctx.attempt),
    FORGE_COMMIT: job.commit,
    FORGE_PROJECT: job.task.project,
    FORGE_PHASE: job.task.phase,
    FORGE_STEP: step.name,
  };
  if (step.action === 'script') {
    for (const s of secrets) env[s.id] = s.value;
    return { name: step.name, stage: step.stage, argv: [step.target, ...step.args], cwd, env, timeoutMs: step.timeoutMs };
  }
  for (const s of secrets) {
    if (s.value.includes(',')) {
      throw new ForgeError('JOB_FAILED', `step ${step.name}: the value of secret ${s.id} contains a comma, which EARTHLY_SECRETS (id=value,…) cannot carry`);
    }
  }
  if (secrets.length > 0) env.EARTHLY_SECRETS = secrets.map((s) => `${s.id}=${s.value}`).join(',');
  const target = step.target.startsWith('+') ? step.target : `+${step.target}`;
  return { name: step.name, stage: step.stage, argv: [ctx.earthly, '--ci', target, ...step.args], cwd, env, timeoutMs: step.timeoutMs };
}
