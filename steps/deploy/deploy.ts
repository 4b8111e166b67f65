import { z } from 'zod';
import { ForgeError } from '../lib/errors.ts';
import type { Approval, ApprovalRecords } from '../lib/records/approvals.ts';
import type { Deployment, DeploymentRecords } from '../lib/records/deployments.ts';
import type { Release, ReleaseRecords } from '../lib/records/releases.ts';
import { checkDeployment, type EnvironmentPolicy, type ReleaseFacts } from '../lib/release/environment-policy.ts';
import { deployMessage, releaseLabel, rollbackMessage, updatePointer, type PointerInput, type PointerUpdate } from '../lib/release/pointer.ts';

/**
 * Deploying a release to an environment — the one path the release pool's worker and `forge
 * deploy` / `forge rollback` share: find the release the way a person names it, check the
 * environment's policy, require an active approval where the environment does, move the GitOps
 * pointer, record the deployment. A rollback is the same forward deployment of an older release,
 * with the reference's rollback message.
 */
const name = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const deployInputSchema = z.object({
  repository: z.string().min(1).max(255),
  project: z.string().regex(name, 'must be a project name'),
  environment: z.string().regex(name, 'must be an environment name'),
  /** What a person types: an alias (tag, `<branch>-<n>`), a release number or a commit SHA prefix. */
  release: z.string().trim().min(1, 'names the release to deploy').max(255),
  deployedBy: z.string().trim().min(1, 'says who deploys').max(255),
  kind: z.enum(['deploy', 'rollback']).default('deploy'),
});
export type DeployInput = z.input<typeof deployInputSchema>;

/** Where the pointers live (updatePointer's options; the author is the deployer). */
export interface GitopsTarget {
  url: string;
  branch?: string;
  maxAttempts?: number;
  now?: () => Date;
  /** Who the commits are by (default: the deployer). */
  author?: { name: string; email: string };
}

export interface DeployDeps {
  releases: ReleaseRecords;
  approvals: ApprovalRecords;
  deployments: DeploymentRecords;
  /** The parsed environments (environmentsSchema). */
  environments: Record<string, EnvironmentPolicy>;
  gitops: GitopsTarget;
}

export interface DeploymentPlan {
  release: Release;
  environment: string;
  /** The policy lets this release into the environment. */
  allowed: boolean;
  refusal?: { rule: string; message: string };
  requiresApproval: boolean;
  autoDeploy: boolean;
  /** The active approval (when one is required and exists). */
  approval?: Approval;
  /** Allowed, and approved where approval is required: deploying now would go ahead. */
  ready: boolean;
  /** Why it is not ready (a refusal, or the missing approval and how to give it). */
  reason?: string;
  /** What is deployed now, per the records. */
  current?: Deployment;
  alreadyDeployed: boolean;
}

export interface DeployResult {
  /** A pointer commit was made (false: the pointer already named this release). */
  changed: boolean;
  /** A deployment row was written (false: the records already said this release). */
  recorded: boolean;
  kind: 'deploy' | 'rollback';
  release: Release;
  previous?: Release;
  pointer: PointerUpdate;
  approval?: Approval;
  deployment: Deployment;
}

const TRIGGER: Record<Release['trigger'], ReleaseFacts['trigger']> = { branch: 'branch_push', tag: 'tag', manual: 'manual' };

/** What the policy sees of a release: its trigger, the branch (from its `<branch>-<n>` alias) and the tag. */
export function releaseFacts(r: Release): ReleaseFacts {
  const branch = r.aliases.branch?.replace(/-[0-9]+$/, '');
  return { trigger: TRIGGER[r.trigger], ...(branch ? { branch } : {}), ...(r.aliases.tag ? { tag: r.aliases.tag } : {}) };
}

const aliasesOf = (r: Release): PointerInput['aliases'] => ({ numeric: r.number, ...(r.aliases.tag ? { tag: r.aliases.tag } : {}), ...(r.aliases.branch ? { branch: r.aliases.branch } : {}) });
const label = (r: Release) => releaseLabel(r.aliases);

function parse(input: DeployInput) {
  const parsed = deployInputSchema.safeParse(input);
  if (!parsed.success) throw new ForgeError('INVALID_ARGS', 'invalid deployment request', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  return parsed.data;
}

/** The recorded release `ref` names, or a RECORD_FAILED error naming what was typed. */
export async function findRelease(releases: ReleaseRecords, repository: string, project: string, ref: string): Promise<Release> {
  const release = await releases.lookup(repository, project, ref);
  if (!release) {
    throw new ForgeError('RECORD_FAILED', `no release ${ref} of ${repository}/${project} is recorded (a release is named by an alias — its tag or <branch>-<n> —, its number or a commit SHA prefix of 7 or more characters)`, [
      { field: 'release', message: `${ref}: not found` },
    ]);
  }
  return release;
}

/**
 * Answers, without writing anything, whether deploying the release would go ahead: the policy's
 * decision, whether an approval is needed and whether an active one exists (Argo's pre-check
 * before a `suspend` node). Throws only for a release that does not exist.
 */
export async function planDeployment(input: Omit<DeployInput, 'deployedBy' | 'kind'>, deps: Omit<DeployDeps, 'gitops'>): Promise<DeploymentPlan> {
  const { repository, project, environment, release: ref } = parse({ ...input, deployedBy: '-' });
  const release = await findRelease(deps.releases, repository, project, ref);
  const current = await deps.deployments.latest(environment, repository, project);
  const base = { release, environment, ...(current ? { current } : {}), alreadyDeployed: current?.release.id === release.id };
  const decision = checkDeployment(deps.environments, environment, releaseFacts(release));
  if (!decision.allowed) {
    const reason = `release ${label(release)} of ${repository}/${project} may not be deployed to ${environment}: ${decision.message}`;
    return { ...base, allowed: false, refusal: { rule: decision.rule, message: decision.message }, requiresApproval: false, autoDeploy: false, ready: false, reason };
  }
  const policy = { allowed: true, requiresApproval: decision.requiresApproval, autoDeploy: decision.autoDeploy };
  if (!decision.requiresApproval) return { ...base, ...policy, ready: true };
  const approval = await deps.approvals.active(repository, project, release.commit, environment);
  if (approval) return { ...base, ...policy, approval, ready: true };
  const others = await deps.approvals.list(repository, project, release.commit, environment);
  const counts = (['expired', 'revoked'] as const).map((s) => [s, others.filter((a) => a.status === s).length] as const).filter(([, n]) => n > 0);
  const reason =
    `${environment} needs an active approval of release ${label(release)} of ${repository}/${project}, and there is none` +
    `${counts.length ? ` (${counts.map(([s, n]) => `${n} ${s}`).join(', ')}: they do not count)` : ''}: ` +
    `approve it with \`forge approve ${environment} ${repository} ${project} ${release.number} --by WHO --reason WHY\``;
  return { ...base, ...policy, ready: false, reason };
}

/**
 * Deploys (or rolls back to) a release: refused with POLICY_VIOLATION when the environment's
 * policy does not take it or its approval is missing, before anything is written. Deploying the
 * release that is already there makes no commit and no new record (`changed: false`). Runs one
 * deployment per (environment, project) at a time, so `previous` is what it really replaced.
 */
export async function deployRelease(input: DeployInput, deps: DeployDeps): Promise<DeployResult> {
  const req = parse(input);
  return deps.deployments.serialize(req.environment, req.repository, req.project, async () => {
    const plan = await planDeployment(req, deps);
    if (!plan.ready) {
      const details = plan.refusal ? [{ field: `environments.${req.environment}.${plan.refusal.rule}`, message: plan.refusal.message }] : [{ field: 'approval', message: 'no active approval' }];
      throw new ForgeError('POLICY_VIOLATION', plan.reason!, details);
    }
    const { release, current, approval } = plan;
    // The release this one replaces (none when it is the one deployed already).
    const previous = current && !plan.alreadyDeployed ? await deps.releases.lookup(req.repository, req.project, current.release.commit) : undefined;
    const pointer: PointerInput = {
      environment: req.environment,
      repository: req.repository,
      project: req.project,
      release: release.commit,
      aliases: aliasesOf(release),
      deployedBy: req.deployedBy,
      ...(approval ? { approvedBy: approval.approvedBy, approvedAt: approval.approvedAt.toISOString() } : {}),
    };
    const message = req.kind === 'rollback' ? rollbackMessage(pointer, previous?.aliases) : deployMessage(pointer);
    const update = await updatePointer(pointer, { ...deps.gitops, message });
    const common = { kind: req.kind, release, ...(previous ? { previous } : {}), pointer: update, ...(approval ? { approval } : {}) };
    if (!update.commit && current && plan.alreadyDeployed && current.approvalId === approval?.id) return { ...common, changed: false, recorded: false, deployment: current };
    try {
      const deployment = await deps.deployments.record({
        repository: req.repository,
        project: req.project,
        releaseId: release.id,
        environment: req.environment,
        kind: req.kind,
        ...(previous ? { previousReleaseId: previous.id } : {}),
        ...(approval ? { approvalId: approval.id } : {}),
        ...(update.commit ? { pointerCommit: update.commit } : {}),
        deployedBy: req.deployedBy,
      });
      return { ...common, changed: Boolean(update.commit), recorded: true, deployment };
    } catch (e) {
      const done = update.commit ? `the pointer ${update.path} was committed (${update.commit})` : `the pointer ${update.path} already named it`;
      throw new ForgeError('RECORD_FAILED', `release ${label(release)} is deployed to ${req.environment} (${done}) but the deployment was not recorded: ${(e as Error).message}. Running the same deployment again records it without a new commit`, [], { cause: e });
    }
  });
}

/**
 * The release `forge rollback` goes back to when none is named: the one deployed before the
 * current one (the newest deployment of another release). Refused when there is none.
 */
export async function rollbackTarget(deployments: DeploymentRecords, environment: string, repository: string, project: string): Promise<{ commit: string; number: number }> {
  const history = await deployments.history(environment, repository, project, 1000);
  const current = history[0];
  if (!current) throw new ForgeError('RECORD_FAILED', `nothing of ${repository}/${project} has been deployed to ${environment}: there is nothing to roll back`);
  const before = history.find((d) => d.release.id !== current.release.id);
  if (!before) throw new ForgeError('RECORD_FAILED', `release ${current.release.number} is the only release of ${repository}/${project} deployed to ${environment}: name the release to roll back to`);
  return { commit: before.release.commit, number: before.release.number };
}
