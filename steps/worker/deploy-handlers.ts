import { outputFiles } from '../lib/contract.ts';
import { ForgeError } from '../lib/errors.ts';
import type { Job } from '../lib/pool/job.ts';
import { ApprovalRecords } from '../lib/records/approvals.ts';
import { DeploymentRecords } from '../lib/records/deployments.ts';
import { ReleaseRecords } from '../lib/records/releases.ts';
import { repositoryName } from '../lib/release/repository-name.ts';
import { deployRelease, planDeployment } from '../deploy/deploy.ts';
import type { HandlerContext, HandlerOutcome } from './handlers.ts';
import { releaseServices } from './release-services.ts';

/**
 * forge-deploy's two jobs on the release pool (docs/releases.md): `deploy-plan` answers whether the
 * environment's policy takes the release and whether the run must wait for an approval (its
 * `suspend` node); `deploy` moves the GitOps pointer — through the same `deployRelease` as
 * `forge deploy`, which checks the policy and the active approval again, so resuming a
 * suspended run without an approval deploys nothing.
 */
type DeployJob = Job & { task: { kind: 'deploy-plan' | 'deploy'; project: string; environment: string; release: string; deployedBy: string; rollback: boolean } };

function records(ctx: HandlerContext) {
  const { settings, db } = releaseServices(ctx, ctx.job.task.kind);
  return { settings, releases: new ReleaseRecords(db), approvals: new ApprovalRecords(db), deployments: new DeploymentRecords(db), environments: settings.environments };
}

export async function handleDeployPlan(ctx: HandlerContext): Promise<HandlerOutcome> {
  const { task } = ctx.job as DeployJob;
  const deps = records(ctx);
  const repository = repositoryName(ctx.job.repository);
  const plan = await planDeployment({ repository, project: task.project, environment: task.environment, release: task.release }, deps);
  if (!plan.allowed) throw new ForgeError('POLICY_VIOLATION', plan.reason!, [{ field: `environments.${task.environment}.${plan.refusal!.rule}`, message: plan.refusal!.message }]);
  const needsApproval = !plan.ready;
  const message = needsApproval
    ? `waiting for an approval: ${plan.reason}; then Resume this run`
    : `release ${plan.release.number} of ${repository}/${task.project} may deploy to ${task.environment}${plan.approval ? ` (approved by ${plan.approval.approvedBy})` : ''}${plan.alreadyDeployed ? '; it is deployed there already' : ''}`;
  ctx.log.write('forge', message);
  return { status: 'succeeded', message, exitCode: 0, steps: [], outputs: outputFiles('deploy-plan', { 'needs-approval': String(needsApproval), release: plan.release.commit }) };
}

export async function handleDeploy(ctx: HandlerContext): Promise<HandlerOutcome> {
  const { task } = ctx.job as DeployJob;
  const { settings, ...deps } = records(ctx);
  if (!settings.gitops) throw new ForgeError('INVALID_CONFIG', 'the release settings name no GitOps repository (platform config release.gitops): nothing to deploy to');
  const repository = repositoryName(ctx.job.repository);
  const result = await deployRelease(
    { repository, project: task.project, environment: task.environment, release: task.release, deployedBy: task.deployedBy, kind: task.rollback ? 'rollback' : 'deploy' },
    { ...deps, gitops: { url: settings.gitops.url, branch: settings.gitops.branch, author: settings.gitops.author } },
  );
  const what = `${result.kind === 'rollback' ? 'rolled back' : 'deployed'} ${task.project} release ${result.release.number} to ${task.environment}`;
  const message = result.changed ? `${what}: ${result.pointer.path} at ${result.pointer.commit}` : `${what}: ${result.pointer.path} already named it (no commit)`;
  ctx.log.write('forge', message);
  return { status: 'succeeded', message, exitCode: 0, steps: [], outputs: outputFiles('deploy', { 'pointer-commit': result.pointer.commit ?? '', pointer: result.pointer.path }) };
}
