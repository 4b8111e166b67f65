import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForgeError } from '../lib/errors.ts';
import { parseDuration } from '../lib/duration.ts';
import type { Job, JobResult, StepResult } from '../lib/pool/job.ts';
import type { ReleaseServices } from './release-services.ts';
import type { LogPublisher } from '../lib/pool/logs.ts';
import type { DiscoveredStep } from '../discover/contract.ts';
import { projectAt } from './project-at.ts';
import { handleArtifact } from './artifact-handler.ts';
import { handleDeploy, handleDeployPlan } from './deploy-handlers.ts';
import { handleRelease, handleReleasePlan } from './release-handlers.ts';
import { discover } from '../discover/discover.ts';
import { argoOutputs } from '../discover/outputs.ts';
import { stepCommand } from './actions.ts';
import { runSteps } from './run-steps.ts';
import { resolveSecret } from './secrets.ts';
import { collectOutputs } from './step-outputs.ts';

/**
 * What a worker does with a job, by task kind. The worker composes the step tools (as `promote`
 * does): discovery runs `discover` on the job's worktree, and a phase re-reads the project's own
 * configuration at the commit — the steps come from the repository, not from the job payload.
 */
export interface HandlerContext {
  job: Job;
  attempt: number;
  /** The job's worktree at its commit. */
  dir: string;
  log: LogPublisher;
  signal: AbortSignal;
  progress(done: number, total: number): void;
  workerEnv: NodeJS.ProcessEnv;
  secretsDir: string;
  earthly: string;
  /** The result of another job of this run, from the job bucket (a release reads its artifacts' results). */
  results(taskId: string): Promise<JobResult | undefined>;
  /** Release settings and records (artifact and release pools). */
  release?: ReleaseServices;
}

export interface HandlerOutcome {
  status: 'succeeded' | 'failed';
  message: string;
  exitCode: number;
  steps: StepResult[];
  outputs: Record<string, string>;
}

export async function handleDiscover(ctx: HandlerContext): Promise<HandlerOutcome> {
  const { job } = ctx;
  if (job.task.kind !== 'discover') throw new Error('not a discovery job');
  const { branch, tag, paths, slots } = job.task;
  ctx.log.write('forge', `discovering projects of ${job.commit}`);
  const result = await discover({ source: ctx.dir, commit: job.commit, branch, tag, paths, slots, onProgress: (done, total, what) => {
    ctx.progress(done, total);
    ctx.log.write('forge', `${done}/${total} ${what}`);
  } });
  const out = result.output;
  const tasks = out.slots.reduce((n, s) => n + s.tasks.length, 0);
  const message = `${out.projects.length} project(s), ${out.phaseGroups.length} phase group(s), ${tasks} task(s); release: ${out.releaseProjects.join(', ') || 'none'}`;
  ctx.log.write('forge', message);
  for (const w of out.warnings) ctx.log.write('forge', `warning: ${w}`);
  return { status: 'succeeded', message, exitCode: 0, steps: [], outputs: argoOutputs(out, result.json) };
}

export async function handlePhase(ctx: HandlerContext): Promise<HandlerOutcome> {
  const job = ctx.job as Job & { task: { kind: 'phase' } };
  const { phase, project, path } = job.task;
  const { project: found } = await projectAt(job, ctx.dir, { project, path });
  const steps = found.phases[phase];
  if (!steps) throw new ForgeError('JOB_INVALID', `project "${project}" takes no part in phase "${phase}" at commit ${job.commit} (its phases: ${Object.keys(found.phases).join(', ') || 'none'})`);

  const outputsDir = await mkdtemp(join(tmpdir(), 'forge-outputs-'));
  try {
    return await runPhase(ctx, job, found.config, steps, outputsDir);
  } finally {
    await rm(outputsDir, { recursive: true, force: true });
  }
}

async function runPhase(ctx: HandlerContext, job: Job & { task: { kind: 'phase' } }, config: string, steps: DiscoveredStep[], outputsDir: string): Promise<HandlerOutcome> {
  const { phase, project } = job.task;
  const commands = [];
  for (const step of steps) {
    const where = `${config}: ci.phases.${phase}.${step.name}`;
    const secrets = await Promise.all(step.secrets.map((ref) => resolveSecret(ref, where, ctx.workerEnv, ctx.secretsDir)));
    secrets.forEach((s) => ctx.log.addSecret(s.value));
    const timeoutMs = parseDuration(step.timeout) ?? job.timeoutMs;
    const command = stepCommand({ ...step, timeoutMs }, secrets, { job, attempt: ctx.attempt, workspace: ctx.dir, workerEnv: ctx.workerEnv, earthly: ctx.earthly });
    command.env.FORGE_OUTPUTS_DIR = outputsDir;
    commands.push(command);
  }
  ctx.log.write('forge', `${project}: phase ${phase}, ${steps.length} step(s): ${steps.map((s) => `${s.name} (stage ${s.stage})`).join(', ')}`);
  const outcome = await runSteps(commands, {
    signal: ctx.signal,
    onOutput: (step, stream, text) => ctx.log.write(stream, text, step),
    onProgress: (done, total) => ctx.progress(done, total),
  });
  for (const s of outcome.steps) ctx.log.write('forge', `step ${s.name}: ${s.status}${s.exitCode !== null ? ` (exit ${s.exitCode})` : ''} in ${s.durationMs} ms`);
  if (outcome.failure) {
    const f = outcome.failure;
    return { status: 'failed', message: `step ${f.step} of ${project} (${phase}) ${f.reason}`, exitCode: f.exitCode && f.exitCode > 0 ? f.exitCode : 1, steps: outcome.steps, outputs: {} };
  }
  return { status: 'succeeded', message: `${project} (${phase}): ${steps.length} step(s) succeeded`, exitCode: 0, steps: outcome.steps, outputs: await collectOutputs(outputsDir) };
}

export const HANDLERS: Record<Job['task']['kind'], (ctx: HandlerContext) => Promise<HandlerOutcome>> = {
  discover: handleDiscover,
  phase: handlePhase,
  ping: async () => ({ status: 'succeeded', message: 'pong', exitCode: 0, steps: [], outputs: {} }),
  'release-plan': handleReleasePlan,
  release: handleRelease,
  artifact: handleArtifact,
  'deploy-plan': handleDeployPlan,
  deploy: handleDeploy,
};

/** Kinds that need no checkout of the repository. */
export const NO_CHECKOUT: ReadonlySet<Job['task']['kind']> = new Set(['ping', 'deploy-plan', 'deploy']);
