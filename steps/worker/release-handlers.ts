import { signImage } from '../lib/cosign.ts';
import { digestOf } from '../lib/crane.ts';
import { outputFile, outputFiles } from '../lib/contract.ts';
import { ForgeError } from '../lib/errors.ts';
import { stageTaskId, type Job } from '../lib/pool/job.ts';
import { PromotionRecords } from '../lib/records/records.ts';
import { ReleaseRecords, type Release } from '../lib/records/releases.ts';
import { artifactResultSchema, type ArtifactResult } from '../lib/release/artifact-result.ts';
import { checkDeployment } from '../lib/release/environment-policy.ts';
import type { ReleaseMetadata } from '../lib/release/metadata.ts';
import { pushRelease } from '../lib/release/release-image.ts';
import { repositoryName } from '../lib/release/repository-name.ts';
import { packResources, sha256 } from '../lib/release/resources-layer.ts';
import { signingOptions } from '../lib/release/settings.ts';
import { tagSafe } from '../lib/release/tags.ts';
import type { DiscoveredProject } from '../discover/contract.ts';
import { renderResources, type ArtifactValues } from '../discover/render.ts';
import { releaseFacts } from '../deploy/deploy.ts';
import type { HandlerContext, HandlerOutcome } from './handlers.ts';
import { incomingImage } from './incoming-image.ts';
import { projectAt } from './project-at.ts';
import { releaseServices } from './release-services.ts';

/**
 * The release stage on the release pool (docs/releases.md): `release-plan` says which artifact
 * jobs a project's release runs and which images it promotes; `release` turns the artifacts'
 * results (read from the job bucket: written by workers, never by a submitter) and their
 * promotions into the rendered resources, the release record and the signed Release OCI image.
 */
type ReleaseJob = Job & { task: { kind: 'release-plan' | 'release'; project: string; path: string; branch?: string; tag?: string; manual: boolean } };

/** What made the release: a person (manual), else the project's trigger that fired at this commit. */
function releaseTrigger(job: ReleaseJob, project: DiscoveredProject): 'branch' | 'tag' | 'manual' {
  const { task } = job;
  if (task.manual) return 'manual';
  if (!project.releaseTriggered) {
    const at = task.tag ? `tag ${task.tag}` : task.branch ? `branch ${task.branch}` : 'no branch or tag';
    throw new ForgeError('JOB_INVALID', `${task.project} does not release at ${job.commit} (${at}): no trigger of its release.on fires; ask for a manual release to release it anyway`);
  }
  return project.releaseReason?.startsWith('tag ') ? 'tag' : 'branch';
}

export async function handleReleasePlan(ctx: HandlerContext): Promise<HandlerOutcome> {
  const job = ctx.job as ReleaseJob;
  const { project, path, branch, tag, manual } = job.task;
  const { output, project: found } = await projectAt(job, ctx.dir, { project, path, branch, tag });
  const trigger = releaseTrigger(job, found);
  const names = Object.keys(found.artifacts).sort();
  const artifacts = names.map((artifact) => ({ id: stageTaskId('artifact', project, artifact), project, path, artifact, ...(branch ? { branch } : {}), ...(tag ? { tag } : {}), manual }));
  const images = names.flatMap((artifact) => {
    const image = incomingImage(output.repository, found, artifact, job.commit, { branch, tag });
    return image ? [{ artifact, image }] : [];
  });
  const message = `${project}: ${trigger} release of ${job.commit.slice(0, 12)}; ${names.length} artifact(s)${names.length ? ` (${names.join(', ')})` : ''}, ${images.length} image(s) to promote`;
  ctx.log.write('forge', message);
  return {
    status: 'succeeded', message, exitCode: 0, steps: [],
    outputs: outputFiles('release-plan', { artifacts: JSON.stringify(artifacts), images: JSON.stringify(images), trigger }),
  };
}

export async function handleRelease(ctx: HandlerContext): Promise<HandlerOutcome> {
  const job = ctx.job as ReleaseJob;
  const { project, path, branch, tag } = job.task;
  const { settings, db } = releaseServices(ctx, 'release');
  const { project: found } = await projectAt(job, ctx.dir, { project, path, branch, tag });
  const trigger = releaseTrigger(job, found);
  const repository = repositoryName(job.repository);

  const built = await artifactResults(ctx, job, Object.keys(found.artifacts).sort());
  const promotions = new PromotionRecords(db);
  const values: Record<string, ArtifactValues> = {};
  // A container deploys from where it was promoted; every publisher's and the producer's outputs come along.
  for (const a of built) values[a.name] = { uri: a.type === 'container' ? await promotedUri(promotions, a) : a.uri, digest: a.digest, producer: a.producer, publishers: a.publishers };
  const rendered = await renderResources({ root: ctx.dir, repoFile: '.forge/repo.cue', projectFile: `${path === '.' ? '' : `${path}/`}.forge/project.cue`, artifacts: values });
  const layer = await packResources(rendered.files);
  ctx.log.write('forge', `rendered ${rendered.files.length} object(s): ${rendered.files.map((f) => f.name).join(', ') || 'none'}`);

  const imageRepository = `${settings.registries.release.replace(/\/+$/, '')}/${repository}/${project}`;
  const sign = await signingOptions(settings.releaseKey, settings.transparencyLog, 'release');
  const releases = new ReleaseRecords(db);
  const recorded = await releases.recordRelease({ repository, project, commit: job.commit, trigger, ...(tag && trigger === 'tag' ? { tag } : {}), ...(branch ? { branch } : {}) }, async (r) => {
    const metadata = releaseMetadata(job, repository, r, built, sha256(layer), rendered.files.length);
    const pushed = await pushRelease(imageRepository, releaseTags(r), metadata, layer);
    await signImage(`${imageRepository}@${pushed.digest}`, sign);
    ctx.log.write('forge', `pushed and signed ${imageRepository}@${pushed.digest} (tags ${releaseTags(r).join(', ')})`);
  });
  const digest = await digestOf(`${imageRepository}:${job.commit}`);
  if (!recorded.created) ctx.log.write('forge', `release ${recorded.number} of ${job.commit} exists: nothing pushed again`);

  // What the policies see is the release as recorded (a rerun's trigger does not change it).
  const facts = releaseFacts(recorded);
  const environments = Object.entries(settings.environments)
    .filter(([name, policy]) => policy.autoDeploy && checkDeployment(settings.environments, name, facts).allowed)
    .map(([name]) => name);
  const message = `${project}: release ${recorded.number} (${Object.values(recorded.aliases).join(', ')}) ${recorded.created ? 'made' : 'already made'}: ${imageRepository}@${digest}; deploys to ${environments.join(', ') || 'no environment'} on its own`;
  return {
    status: 'succeeded', message, exitCode: 0, steps: [],
    outputs: outputFiles('release', { number: String(recorded.number), aliases: JSON.stringify(recorded.aliases), image: `${imageRepository}@${digest}`, environments: JSON.stringify(environments) }),
  };
}

/** Every artifact job of this release must have succeeded in this run; their results are the workers' own. */
async function artifactResults(ctx: HandlerContext, job: ReleaseJob, names: string[]): Promise<ArtifactResult[]> {
  return Promise.all(names.map(async (name) => {
    const taskId = stageTaskId('artifact', job.task.project, name);
    const result = await ctx.results(taskId);
    if (result?.status !== 'succeeded') throw new ForgeError('JOB_FAILED', `artifact ${name} of ${job.task.project} has no successful build in this run (job ${taskId}: ${result ? `${result.status}: ${result.message}` : 'never ran'}): no partial release is made`);
    const parsed = artifactResultSchema.safeParse(JSON.parse(result.outputs[outputFile('artifact', 'artifact')] ?? 'null'));
    if (!parsed.success || parsed.data.name !== name) throw new ForgeError('JOB_INVALID', `artifact job ${taskId} left no valid result for ${name}`);
    return parsed.data;
  }));
}

/** A container deploys from the trusted registry only: the promotion verify-and-promote recorded for its digest. */
async function promotedUri(promotions: PromotionRecords, a: ArtifactResult): Promise<string> {
  const found = await promotions.promotionsOf(a.digest);
  if (found.length === 0) throw new ForgeError('JOB_FAILED', `image ${a.name} (${a.uri}) is not promoted: verify-and-promote refused it or did not run, so no release deploys it`);
  return `${found[0]!.trustedRepository}@${a.digest}`;
}

/** The commit first, then the number and the aliases, made tag-safe (`api/v1.2.3` → `api-v1.2.3`). */
export function releaseTags(r: Release): string[] {
  return [...new Set([r.commit, String(r.number), ...[r.aliases.tag, r.aliases.branch].filter((x): x is string => !!x).map(tagSafe)])];
}

function releaseMetadata(job: ReleaseJob, repository: string, r: Release, built: ArtifactResult[], resourcesDigest: string, files: number): ReleaseMetadata {
  const { branch, tag } = job.task;
  return {
    apiVersion: 'forge.projectcatalyst.io/v1', kind: 'ReleaseMetadata', repository, project: r.project,
    release: { number: r.number, aliases: r.aliases, trigger: r.trigger },
    source: { repositoryUrl: job.repository.replace(/\/\/[^/@]*@/, '//'), commit: job.commit, ...(branch ? { branch } : {}), ...(tag ? { tag } : {}) },
    artifacts: built.map((a) => ({ name: a.name, trackingUri: a.tracking.uri, digest: a.digest })),
    resources: { digest: resourcesDigest, files },
    createdAt: r.createdAt.toISOString(),
  };
}
