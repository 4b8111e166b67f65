import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignOptions } from '../cosign.ts';
import { ForgeError } from '../errors.ts';
import { artifactResultSchema, type ArtifactResult } from './artifact-result.ts';
import { produce, type ArtifactConfig } from './produce.ts';
import { publishAll, type PublisherConfig } from './publish.ts';
import { pushTracking } from './tracking-image.ts';

/**
 * One artifact job of a release (docs/releases.md "Artifacts"): produce the artifact in a fresh
 * staging directory, publish it to each of its publishers (by name), push its signed tracking
 * image, and return the ArtifactResult the release job reads. The staging directory is removed
 * whatever happens. No Docker daemon: containers travel as OCI image layouts.
 */
export interface ArtifactInput {
  /** The checkout, and the project (name, directory relative to the checkout). */
  checkout: string;
  project: string;
  projectPath: string;
  /** `owner/repo` (the tracking image's path, the github publisher's default). */
  repository: string;
  repositoryUrl: string;
  commit: string;
  branch?: string;
  tag?: string;
  name: string;
  /** The artifact's evaluated configuration (`DiscoveredProject.artifacts[name]`). */
  config: ArtifactConfig;
  /** The repository's `publishers`. */
  publishers: Record<string, PublisherConfig>;
  /** `<registry>/<prefix>` of tracking images. */
  trackingRegistry: string;
  /** The build identity's signing key: published containers and tracking images. */
  sign: SignOptions;
  builder: string;
  workflow: { name: string; uid: string };
  signal: AbortSignal;
  log(line: string, stream: 'out' | 'err' | 'forge'): void;
}

export interface ArtifactDeps {
  /** A publisher's credentials (the github token); the worker's secret providers. */
  resolveSecret(ref: unknown, where: string): Promise<string>;
  /** The worker's environment (PATH, HOME, FORGE_BASE_IMAGE, … are passed to the producer). */
  workerEnv: NodeJS.ProcessEnv;
  /** The Earthly binary. */
  earthly?: string;
  /** Where staging directories are made (default the system's temporary directory). */
  stagingRoot?: string;
  /** Producer timeout (default 30 min), output bounds (default 8 GiB, 100,000 entries). */
  timeoutMs?: number;
  maxBytes?: number;
  maxFiles?: number;
  now?: () => Date;
}

export async function buildArtifact(input: ArtifactInput, deps: ArtifactDeps): Promise<ArtifactResult> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const work = await mkdtemp(join(deps.stagingRoot ?? tmpdir(), `forge-artifact-${input.name}-`));
  try {
    const staging = join(work, 'out');
    await mkdir(join(work, 'scratch'));
    const produced = await produce({
      checkout: input.checkout, projectPath: input.projectPath, project: input.project, artifact: input.name, config: input.config,
      commit: input.commit, branch: input.branch, tag: input.tag, workflow: input.workflow, staging,
      workerEnv: deps.workerEnv, earthly: deps.earthly ?? 'earthly', timeoutMs: deps.timeoutMs ?? 30 * 60_000,
      maxBytes: deps.maxBytes ?? 8 * 1024 ** 3, maxFiles: deps.maxFiles ?? 100_000, signal: input.signal, log: input.log,
    });
    const published = await publishAll({
      project: input.project, artifact: input.name, type: input.config.type, repository: input.repository, commit: input.commit,
      branch: input.branch, tag: input.tag, produced, settings: input.config.publishers, publishers: input.publishers,
      sign: input.sign, scratch: join(work, 'scratch'), resolveSecret: deps.resolveSecret, log: input.log,
    });
    const primary = published[Object.keys(published).sort()[0]!]!;
    if (input.signal.aborted) throw new ForgeError('JOB_CANCELLED', `artifact ${input.name}: cancelled before its tracking image`);
    const tracking = await pushTracking(
      {
        registry: input.trackingRegistry, repository: input.repository.toLowerCase(), project: input.project, artifact: input.name, type: input.config.type,
        commit: input.commit, repositoryUrl: input.repositoryUrl, source: produced.source, uri: primary.uri, digest: primary.digest,
        builder: input.builder, workflow: input.workflow, startedAt, finishedAt: now().toISOString(),
      },
      input.sign,
    );
    input.log(`artifact ${input.name}: tracking image ${tracking.reference} ${tracking.created ? 'pushed' : 'already there'} (${tracking.digest})`, 'forge');
    return artifactResultSchema.parse({
      name: input.name,
      type: input.config.type,
      uri: primary.uri,
      digest: primary.digest,
      producer: produced.outputs,
      publishers: Object.fromEntries(Object.entries(published).map(([n, p]) => [n, p.outputs])),
      tracking: { uri: tracking.reference, digest: tracking.digest },
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
