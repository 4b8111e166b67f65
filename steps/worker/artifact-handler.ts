import { outputFiles } from '../lib/contract.ts';
import { ForgeError } from '../lib/errors.ts';
import type { Job } from '../lib/pool/job.ts';
import { buildArtifact } from '../lib/release/artifact.ts';
import { repositoryName } from '../lib/release/repository-name.ts';
import { signingOptions } from '../lib/release/settings.ts';
import type { HandlerContext, HandlerOutcome } from './handlers.ts';
import { projectAt } from './project-at.ts';
import { resolveSecret, type SecretRef } from './secrets.ts';

/**
 * One artifact of a release on the artifact pool: the artifact's configuration is read from the
 * project at the commit (never from the job), then produced, published, signed with the build
 * key and tracked (steps/lib/release/artifact.ts). Its result is what the release job reads.
 */
type ArtifactJob = Job & { task: { kind: 'artifact'; project: string; path: string; artifact: string; branch?: string; tag?: string } };

export async function handleArtifact(ctx: HandlerContext): Promise<HandlerOutcome> {
  const job = ctx.job as ArtifactJob;
  const { project, path, artifact, branch, tag } = job.task;
  const settings = ctx.release?.settings;
  if (!settings) throw new ForgeError('INVALID_CONFIG', 'this worker cannot build artifacts: it has no release settings (forge worker --release-settings FILE)');
  const { output, project: found } = await projectAt(job, ctx.dir, { project, path, branch, tag });
  const config = found.artifacts[artifact];
  if (!config) throw new ForgeError('JOB_INVALID', `project ${project} declares no artifact "${artifact}" at commit ${job.commit} (its artifacts: ${Object.keys(found.artifacts).join(', ') || 'none'})`);
  const result = await buildArtifact(
    {
      checkout: ctx.dir, project, projectPath: path, repository: repositoryName(job.repository), repositoryUrl: job.repository,
      commit: job.commit, branch, tag, name: artifact, config, publishers: output.repository.publishers,
      trackingRegistry: settings.registries.tracking, sign: await signingOptions(settings.buildKey, settings.transparencyLog, 'build'),
      builder: settings.builder, workflow: { name: job.workflowName ?? job.runId, uid: job.runId }, signal: ctx.signal,
      log: (line, stream) => ctx.log.write(stream, line, stream === 'forge' ? undefined : artifact),
    },
    {
      workerEnv: ctx.workerEnv, earthly: ctx.earthly,
      resolveSecret: async (ref, where) => {
        const secret = await resolveSecret(ref as SecretRef, where, ctx.workerEnv, ctx.secretsDir);
        ctx.log.addSecret(secret.value);
        return secret.value;
      },
    },
  );
  const message = `${project}/${artifact}: ${result.type} published to ${Object.keys(result.publishers).join(', ')} as ${result.uri}; tracking image ${result.tracking.uri}`;
  return { status: 'succeeded', message, exitCode: 0, steps: [], outputs: outputFiles('artifact', { artifact: JSON.stringify(result), uri: result.uri }) };
}
