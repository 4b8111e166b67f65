import YAML from 'yaml';
import { z } from 'zod';
import { commonSchema, stepMain, type StepOutcome } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { readInputFile } from '../lib/input-file.ts';
import { ApprovalRecords } from '../lib/records/approvals.ts';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { DeploymentRecords } from '../lib/records/deployments.ts';
import { ReleaseRecords } from '../lib/records/releases.ts';
import { environmentsSchema, type EnvironmentPolicy } from '../lib/release/environment-policy.ts';
import { releaseLabel } from '../lib/release/pointer.ts';
import { deployRelease, planDeployment, rollbackTarget, type DeployResult, type DeploymentPlan } from './deploy.ts';

const options = `Options (each may also come from FORGE_<OPTION>, e.g. FORGE_GITOPS_URL):
  --repository R         the source repository the release belongs to (acme/monorepo)
  --by WHO               who deploys (recorded, in the pointer and the commit message)
  --gitops-url URL       the GitOps repository (any URL git pushes to; may carry a token:
                         pass it as FORGE_GITOPS_URL from a Secret; never printed)
  --gitops-branch B      its branch (default main)
  --gitops-author-name N, --gitops-author-email E
                         who the pointer commits are by (default: the deployer)
  --environments FILE    the environments and their policies, YAML or JSON (a map of
                         environment → {allowedTriggers, allowedBranches, autoDeploy,
                         requiresApproval, approvalTtlHours}, or {environments: that map});
                         default: the reference's dev, staging and production
  --check                only say whether the deployment would go ahead (policy, approval)
                         and write nothing: exit 0 when the policy allows it (ready or waiting
                         for an approval), 1 when it refuses it
  --database-url URL     the records (PostgreSQL, as the runtime role; pass it as
                         FORGE_DATABASE_URL from a Secret; never printed); without it the
                         embedded PGlite under --state-dir
  --state-dir DIR        default: $FORGE_STATE_DIR or ~/.local/state/forge-workflows
  --outputs-dir DIR      also write Argo output files: release-commit, release-number,
                         pointer-commit ('' when unchanged), changed; with --check: allowed,
                         requires-approval, ready
  --output text|json

Exit codes: 0 deployed (or already deployed), 1 refused or failed, 2 usage.
`;

const deployUsage = `Usage: forge deploy ENVIRONMENT PROJECT RELEASE --repository R --by WHO --gitops-url URL [options]

Deploys a release of a project to an environment: checks the environment's policy (the trigger
and branch that made the release), requires an active approval where the environment does
(\`forge approve\`), commits the GitOps pointer environments/<env>/<repository>/<project>/release.yaml
and records the deployment. RELEASE is what people type: an alias (tag, <branch>-<n>), a release
number or a commit SHA prefix. Deploying the release that is already there commits nothing.

${options}`;

const rollbackUsage = `Usage: forge rollback ENVIRONMENT PROJECT [RELEASE] --repository R --by WHO --gitops-url URL [options]

Rolls a project in an environment back to an older release: a forward deployment of that
release (same policy and approval checks) with a rollback commit message. Without RELEASE, the
release deployed before the current one.

${options}`;

const text = z
  .string()
  .optional()
  .transform((s) => s?.trim() || undefined);

const schema = z.object({
  repository: text,
  by: text,
  'gitops-url': text,
  'gitops-branch': text,
  'gitops-author-name': text,
  'gitops-author-email': text,
  environments: text,
  check: z.boolean().optional(),
  'database-url': text,
  'state-dir': text,
  ...commonSchema,
});
type Values = z.infer<typeof schema>;

/** The environments from a YAML/JSON file (the map, or `{environments: map}`), or the reference's defaults. */
export async function loadEnvironments(file: string | undefined): Promise<Record<string, EnvironmentPolicy>> {
  if (!file) return environmentsSchema.parse(undefined);
  let doc: unknown;
  try {
    doc = YAML.parse(await readInputFile(file, 'the environments file', '--environments'), { maxAliasCount: 100 });
  } catch (e) {
    if (e instanceof ForgeError) throw e;
    throw new ForgeError('INVALID_CONFIG', `the environments file ${file} is not YAML or JSON: ${(e as Error).message}`, [{ file, message: 'not YAML or JSON' }]);
  }
  const wrapped = doc !== null && typeof doc === 'object' && !Array.isArray(doc) && Object.keys(doc).length === 1 && 'environments' in doc;
  const map = wrapped ? (doc as { environments: unknown }).environments : doc;
  const parsed = environmentsSchema.safeParse(map ?? {});
  if (!parsed.success) {
    const prefix = wrapped ? 'environments.' : '';
    throw new ForgeError('INVALID_CONFIG', `invalid environments in ${file}`, parsed.error.issues.map((i) => ({ file, field: `${prefix}${i.path.join('.')}` || '(top)', message: i.message })));
  }
  if (Object.keys(parsed.data).length === 0) throw new ForgeError('INVALID_CONFIG', `${file} names no environment`, [{ file, message: 'no environments' }]);
  return parsed.data;
}

const planText = (p: DeploymentPlan, project: string) =>
  p.ready
    ? `release ${releaseLabel(p.release.aliases)} of ${project} may be deployed to ${p.environment}${p.approval ? ` (approved by ${p.approval.approvedBy} until ${p.approval.expiresAt.toISOString()})` : ''}${p.alreadyDeployed ? ': it is already deployed there' : ''}\n`
    : `${p.reason}\n`;

function resultText(r: DeployResult, environment: string): string {
  const what = `release ${releaseLabel(r.release.aliases)} of ${r.release.repository}/${r.release.project} (${r.release.commit})`;
  if (!r.changed && !r.recorded) return `${what} is already deployed to ${environment}: nothing to commit\n`;
  const verb = r.kind === 'rollback' ? 'rolled back' : 'deployed';
  const lines = [
    `${verb} ${what} to ${environment}`,
    `  pointer: ${r.pointer.path} ${r.pointer.commit ? `(commit ${r.pointer.commit})` : '(already named this release: no commit)'}`,
    `  previous: ${r.previous ? `release ${releaseLabel(r.previous.aliases)}` : 'none'}`,
    ...(r.approval ? [`  approved by: ${r.approval.approvedBy} at ${r.approval.approvedAt.toISOString()}`] : []),
    `  deployment: ${r.deployment.id}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function run(kind: 'deploy' | 'rollback', v: Values, positionals: string[]): Promise<StepOutcome> {
  const [environment, project, ref, ...extra] = positionals;
  const shape = kind === 'deploy' ? 'ENVIRONMENT PROJECT RELEASE' : 'ENVIRONMENT PROJECT [RELEASE]';
  if (!environment || !project || (kind === 'deploy' && !ref) || extra.length) throw new ForgeError('INVALID_ARGS', `forge ${kind} takes ${shape} (see --help)`);
  if (!v.repository) throw new ForgeError('INVALID_ARGS', `forge ${kind} needs --repository (the repository the release belongs to)`);
  const environments = await loadEnvironments(v.environments);
  if (!v.check) {
    if (!v.by) throw new ForgeError('INVALID_ARGS', `forge ${kind} needs --by (who deploys)`);
    if (!v['gitops-url']) throw new ForgeError('INVALID_ARGS', `forge ${kind} needs --gitops-url (the GitOps repository)`);
    if (Boolean(v['gitops-author-name']) !== Boolean(v['gitops-author-email'])) throw new ForgeError('INVALID_ARGS', '--gitops-author-name and --gitops-author-email go together');
  }
  const db = await openDatabase(v['database-url'] ? { url: v['database-url'] } : { dataDir: defaultDataDir(v['state-dir']) });
  try {
    const deps = { releases: new ReleaseRecords(db), approvals: new ApprovalRecords(db), deployments: new DeploymentRecords(db), environments };
    const release = ref ?? (await rollbackTarget(deps.deployments, environment, v.repository, project)).commit;
    const target = { repository: v.repository, project, environment, release };
    if (v.check) {
      const plan = await planDeployment(target, deps);
      const outputs = { allowed: String(plan.allowed), 'requires-approval': String(plan.requiresApproval), ready: String(plan.ready), 'release-commit': plan.release.commit, 'release-number': String(plan.release.number) };
      if (!plan.allowed) throw new ForgeError('POLICY_VIOLATION', plan.reason!, plan.refusal ? [{ field: `environments.${environment}.${plan.refusal.rule}`, message: plan.refusal.message }] : []);
      return { result: plan, outputs, text: planText(plan, `${v.repository}/${project}`) };
    }
    const author = v['gitops-author-name'] ? { author: { name: v['gitops-author-name'], email: v['gitops-author-email']! } } : {};
    const r = await deployRelease({ ...target, deployedBy: v.by!, kind }, { ...deps, gitops: { url: v['gitops-url']!, ...(v['gitops-branch'] ? { branch: v['gitops-branch'] } : {}), ...author } });
    const outputs = { 'release-commit': r.release.commit, 'release-number': String(r.release.number), 'pointer-commit': r.pointer.commit ?? '', changed: String(r.changed) };
    return { result: r, outputs, text: resultText(r, environment) };
  } finally {
    await db.close();
  }
}

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, { tool: 'deploy', usage: deployUsage, schema, run: (v, positionals) => run('deploy', v, positionals) });
}

export function rollbackMain(argv: string[]): Promise<void> {
  return stepMain(argv, { tool: 'rollback', usage: rollbackUsage, schema, run: (v, positionals) => run('rollback', v, positionals) });
}
