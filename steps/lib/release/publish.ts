import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { publicKeyOf, signImage, verifyImage, type SignOptions } from '../cosign.ts';
import { ForgeError, isForgeError } from '../errors.ts';
import type { Produced } from './produce.ts';
import { publishGithubAsset } from './publish-github.ts';
import { publishFile, publishImageLayout } from './publish-oci.ts';
import { imageTags } from './tags.ts';

/**
 * Publishes a produced artifact to each publisher it lists, by name: `docker` pushes to OCI
 * (`<registry>/<namespace>/<project>/<artifact>:<tag>` for every tag of the project's `tags`),
 * containers then signed with the build key — unless a signature by that key is already there, so
 * a rerun pushes nothing; `github` uploads a binary or archive as an asset of the tag's release.
 * Both are idempotent by digest (publish-oci.ts, publish-github.ts). Any other type is refused.
 */
export interface PublisherConfig {
  type: string;
  credentials?: unknown;
  [setting: string]: unknown;
}

export interface PublishInput {
  project: string;
  artifact: string;
  type: 'container' | 'binary' | 'archive';
  /** `owner/repo`: the github publisher's default repository. */
  repository: string;
  commit: string;
  branch?: string;
  tag?: string;
  produced: Produced;
  /** The artifact's `publishers`: name → project-level settings. */
  settings: Record<string, Record<string, unknown>>;
  /** The repository's `publishers`. */
  publishers: Record<string, PublisherConfig>;
  sign: SignOptions;
  /** A scratch directory (the build key's public half is written there). */
  scratch: string;
  /** A publisher's credentials (the github token). */
  resolveSecret(ref: unknown, where: string): Promise<string>;
  log(line: string, stream: 'forge'): void;
}

export interface PublishedTo {
  uri: string;
  digest: string;
  outputs: Record<string, string>;
}

const host = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/i;
const path = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const dockerRepo = z.looseObject({ type: z.literal('docker'), registry: z.string().regex(host, 'must be a registry host[:port]'), namespace: z.string().regex(path, 'must be a lower-case repository path').optional() });
const githubRepo = z.looseObject({
  type: z.literal('github'),
  owner: z.string().optional(),
  repo: z.string().optional(),
  apiUrl: z.url().default('https://api.github.com'),
  uploadUrl: z.url().default('https://uploads.github.com'),
  credentials: z.unknown().refine((v) => v !== undefined, 'is required (the token that writes releases)'),
});
const dockerProject = z.strictObject({ tags: z.array(z.string()).min(1).max(16).optional() });
const githubProject = z.strictObject({ name: z.string().optional() });

export async function publishAll(input: PublishInput): Promise<Record<string, PublishedTo>> {
  const out: Record<string, PublishedTo> = {};
  const names = Object.keys(input.settings).sort();
  if (names.length === 0) throw new ForgeError('ARTIFACT_FAILED', `artifact ${input.artifact} of ${input.project} lists no publishers`);
  for (const name of names) {
    const where = `artifact ${input.artifact}: publisher ${name}`;
    const repo = input.publishers[name];
    if (!repo) throw new ForgeError('ARTIFACT_FAILED', `${where} is not defined in the repository's publishers`);
    if (repo.type === 'docker') out[name] = await docker(input, name, where, dockerTarget(input, where, repo, input.settings[name]));
    else if (repo.type === 'github') out[name] = await github(input, where, parse(githubRepo, repo, `${where} (repository settings)`), parse(githubProject, input.settings[name], `${where} (project settings)`));
    else throw new ForgeError('ARTIFACT_FAILED', `${where}: publisher type ${repo.type} is not supported (docker and github are)`);
    input.log(`${where}: ${out[name].uri}`, 'forge');
  }
  return out;
}

export interface DockerTarget {
  registry: string;
  namespace: string;
  /** `<namespace>/<project>/<artifact>` */
  repository: string;
  /** `<registry>/<repository>` */
  full: string;
  tags: string[];
}

/**
 * Where the `docker` publisher puts an artifact: `<registry>/<namespace>/<project>/<artifact>` under
 * each of its tags. The release plan names the first tag's reference to verify-and-promote before
 * the artifact job pushes it.
 */
export function dockerTarget(input: Pick<PublishInput, 'project' | 'artifact' | 'commit' | 'branch' | 'tag'>, where: string, repoSettings: unknown, projectSettings: unknown): DockerTarget {
  const repo = parse(dockerRepo, repoSettings, `${where} (repository settings)`);
  const project = parse(dockerProject, projectSettings, `${where} (project settings)`);
  const repository = [repo.namespace, input.project, input.artifact].filter(Boolean).join('/');
  return { registry: repo.registry, namespace: repo.namespace ?? '', repository, full: `${repo.registry}/${repository}`, tags: imageTags(project.tags ?? ['sha'], input, where) };
}

async function docker(input: PublishInput, name: string, where: string, target: DockerTarget): Promise<PublishedTo> {
  const { repository, full, tags } = target;
  let first: { uri: string; digest: string; reused: boolean } | undefined;
  for (const tag of tags) {
    const p = input.produced.source.kind === 'oci-dir' ? await publishImageLayout(`${full}:${tag}`, input.produced.source.path) : await publishFile(`${full}:${tag}`, input.produced.source.path, input.produced.file!);
    input.log(`${where}: ${full}:${tag} ${p.reused ? 'already holds' : 'pushed'} ${p.digest}`, 'forge');
    first ??= p;
  }
  if (input.type === 'container') await signOnce(first!.uri, input, name, where);
  return { uri: first!.uri, digest: first!.digest, outputs: { uri: first!.uri, registry: target.registry, namespace: target.namespace, repository, tag: tags[0]!, digest: first!.digest } };
}

/** Signs the published image with the build key, unless a signature by that key verifies already. */
async function signOnce(reference: string, input: PublishInput, name: string, where: string): Promise<void> {
  const publicKey = join(input.scratch, `build-key-${name}.pub`);
  await writeFile(publicKey, await publicKeyOf(input.sign));
  try {
    await verifyImage(reference, { key: publicKey, transparencyLog: input.sign.transparencyLog });
    input.log(`${where}: ${reference} is signed by the build key already`, 'forge');
    return;
  } catch (e) {
    if (!isForgeError(e) || e.code !== 'SIGNATURE_INVALID') throw e;
  }
  await signImage(reference, input.sign);
  input.log(`${where}: signed ${reference} with the build key`, 'forge');
}

async function github(input: PublishInput, where: string, repo: z.infer<typeof githubRepo>, project: z.infer<typeof githubProject>): Promise<PublishedTo> {
  if (input.produced.source.kind !== 'file') throw new ForgeError('ARTIFACT_FAILED', `${where}: the github publisher takes binaries and archives, not a ${input.type}`);
  if (!input.tag) throw new ForgeError('ARTIFACT_FAILED', `${where}: the github publisher uploads to the release of a git tag; this release was made from ${input.branch ? `branch ${input.branch}` : 'no tag'}`);
  const [owner, name] = input.repository.split('/');
  const token = await input.resolveSecret(repo.credentials, `${where}: credentials`);
  const asset = await publishGithubAsset({ apiUrl: repo.apiUrl, uploadUrl: repo.uploadUrl, owner: repo.owner ?? owner ?? '', repo: repo.repo ?? name ?? '', tag: input.tag, token }, input.produced.source.path, project.name ?? basename(input.produced.source.path));
  return {
    uri: asset.uri,
    digest: asset.digest,
    outputs: { uri: asset.uri, ...(asset.releaseUrl ? { release_url: asset.releaseUrl } : {}), asset_name: project.name ?? basename(input.produced.source.path), download_url: asset.uri },
  };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  throw new ForgeError('ARTIFACT_FAILED', `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(settings)'} ${i.message}`).join('; ')}`, r.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
}
