import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { runSteps } from '../run-steps.ts';
import { actionCommand } from '../step-command.ts';
import { fileArtifactSchema, type FileArtifact } from './publish-oci.ts';

/**
 * Runs an artifact's producer (`script` or `earthly`, through the phase steps' machinery) in the
 * project directory with `FORGE_ARTIFACT_DIR` set to a fresh staging directory, and checks what
 * it left there (docs/releases.md "Artifacts"):
 * - container: an OCI image layout with exactly one manifest in `$FORGE_ARTIFACT_DIR/image`;
 * - binary/archive: one file in `$FORGE_ARTIFACT_DIR/` and `$FORGE_ARTIFACT_DIR/artifact.json`
 *   `{os, arch, format?}` (archives need `format`).
 * The staging directory holds regular files and directories only (a link is refused) and at most
 * `maxBytes`/`maxFiles`; the caller creates and removes it.
 */
export interface ArtifactConfig {
  type: 'container' | 'binary' | 'archive';
  producer: { earthly?: { target: string; args: string[] }; script?: { target: string; args: string[] } };
  publishers: Record<string, Record<string, unknown>>;
}

export interface ProduceInput {
  /** The checkout, and the project's directory relative to it. */
  checkout: string;
  projectPath: string;
  project: string;
  artifact: string;
  config: ArtifactConfig;
  commit: string;
  branch?: string;
  tag?: string;
  workflow: { name: string; uid: string };
  /** A fresh, empty directory: `$FORGE_ARTIFACT_DIR`. */
  staging: string;
  workerEnv: NodeJS.ProcessEnv;
  earthly: string;
  timeoutMs: number;
  maxBytes: number;
  maxFiles: number;
  signal: AbortSignal;
  log(line: string, stream: 'out' | 'err' | 'forge'): void;
}

export interface Produced {
  /** What syft and the publishers read: the image layout directory, or the file. */
  source: { kind: 'oci-dir' | 'file'; path: string };
  /** Binaries and archives: their metadata. */
  file?: FileArtifact;
  /** container `digest, size, layers`; binary `digest, size, os, arch`; archive `digest, size, os, arch, format`. */
  outputs: Record<string, string>;
}

const artifactJson = z.strictObject({ os: z.string(), arch: z.string(), format: z.string().optional() });
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export async function produce(input: ProduceInput): Promise<Produced> {
  const what = `artifact ${input.artifact} of ${input.project}`;
  const kinds = (['earthly', 'script'] as const).filter((k) => input.config.producer[k]);
  if (kinds.length !== 1) throw new ForgeError('ARTIFACT_FAILED', `${what}: exactly one producer (earthly or script) is required, found ${kinds.join(' and ') || 'none'}`);
  const action = kinds[0]!;
  const p = input.config.producer[action]!;
  await mkdir(input.staging, { recursive: true });
  const command = actionCommand(
    // Earthly does not pass the environment into a build: the directory is a build arg too.
    { name: `produce-${input.artifact}`, stage: 0, action, target: p.target, args: action === 'earthly' ? [`--FORGE_ARTIFACT_DIR=${input.staging}`, ...p.args] : p.args, timeoutMs: input.timeoutMs },
    [],
    {
      cwd: join(input.checkout, input.projectPath),
      workerEnv: input.workerEnv,
      earthly: input.earthly,
      facts: {
        FORGE_ARTIFACT_DIR: input.staging,
        FORGE_ARTIFACT: input.artifact,
        FORGE_ARTIFACT_TYPE: input.config.type,
        FORGE_PROJECT: input.project,
        FORGE_COMMIT: input.commit,
        FORGE_RUN_ID: input.workflow.uid,
        FORGE_WORKFLOW: input.workflow.name,
        ...(input.branch ? { FORGE_BRANCH: input.branch } : {}),
        ...(input.tag ? { FORGE_TAG: input.tag } : {}),
      },
    },
  );
  input.log(`${what}: ${action} producer ${[p.target, ...p.args].join(' ')} (FORGE_ARTIFACT_DIR=${input.staging})`, 'forge');
  let tail = '';
  const outcome = await runSteps([command], {
    signal: input.signal,
    onProgress: () => undefined,
    onOutput: (_step, stream, text) => {
      tail = (tail + text).slice(-2000);
      for (const line of text.split('\n').filter(Boolean)) input.log(line, stream);
    },
  });
  if (input.signal.aborted) throw new ForgeError('JOB_CANCELLED', `${what}: cancelled while its producer ran`);
  if (outcome.failure) {
    const last = tail.trim().split('\n').slice(-3).join(' | ');
    throw new ForgeError('ARTIFACT_FAILED', `${what}: the ${action} producer ${p.target} ${outcome.failure.reason}${last ? `: ${last}` : ''}`);
  }
  await checkStaging(input, what);
  return input.config.type === 'container' ? container(input.staging, what) : file(input, what);
}

/** Regular files and directories only, within the bounds. */
async function checkStaging(input: ProduceInput, what: string): Promise<void> {
  let bytes = 0;
  let files = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (++files > input.maxFiles) throw new ForgeError('ARTIFACT_FAILED', `${what}: the producer left more than ${input.maxFiles} entries in FORGE_ARTIFACT_DIR`);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) bytes += (await lstat(path)).size;
      else throw new ForgeError('ARTIFACT_FAILED', `${what}: FORGE_ARTIFACT_DIR/${relative(input.staging, path)} is not a regular file or directory (links are refused)`);
      if (bytes > input.maxBytes) throw new ForgeError('ARTIFACT_FAILED', `${what}: the producer's output is over ${input.maxBytes} bytes`);
    }
  };
  await walk(input.staging);
}

async function container(staging: string, what: string): Promise<Produced> {
  const layout = join(staging, 'image');
  const missing = (m: string) => new ForgeError('ARTIFACT_FAILED', `${what}: a container producer writes an OCI image layout with one image into $FORGE_ARTIFACT_DIR/image; ${m}`);
  const layoutFile = await readJson(join(layout, 'oci-layout'), 64 * 1024);
  if (layoutFile === undefined) throw missing('image/oci-layout is missing');
  if ((layoutFile as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion !== '1.0.0') throw missing('image/oci-layout is not {"imageLayoutVersion": "1.0.0"}');
  const index = z.object({ manifests: z.array(z.object({ mediaType: z.string().optional(), digest: z.string().regex(/^sha256:[0-9a-f]{64}$/) })) }).safeParse(await readJson(join(layout, 'index.json'), 1024 * 1024));
  if (!index.success) throw missing('image/index.json is missing or not an OCI index');
  if (index.data.manifests.length !== 1) throw missing(`image/index.json lists ${index.data.manifests.length} manifests`);
  const digest = index.data.manifests[0]!.digest;
  const blob = join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const raw = await readFile(blob).catch(() => undefined);
  if (!raw || sha256(raw) !== digest) throw missing(`its manifest ${digest} is not in image/blobs (or does not match its digest)`);
  const manifest = z.object({ mediaType: z.string().optional(), config: z.object({ size: z.number() }), layers: z.array(z.object({ size: z.number() })) }).safeParse(JSON.parse(raw.toString('utf8')));
  if (!manifest.success || (manifest.data.mediaType && ![MANIFEST, DOCKER_MANIFEST].includes(manifest.data.mediaType))) throw missing(`${digest} is not an image manifest (an index of platforms is not accepted)`);
  const size = manifest.data.config.size + manifest.data.layers.reduce((n, l) => n + l.size, 0);
  return { source: { kind: 'oci-dir', path: layout }, outputs: { digest, size: String(size), layers: String(manifest.data.layers.length) } };
}

async function file(input: ProduceInput, what: string): Promise<Produced> {
  const type = input.config.type as 'binary' | 'archive';
  const missing = (m: string) => new ForgeError('ARTIFACT_FAILED', `${what}: a ${type} producer writes one file and artifact.json ({os, arch${type === 'archive' ? ', format' : ''}}) into $FORGE_ARTIFACT_DIR; ${m}`);
  const entries = await readdir(input.staging, { withFileTypes: true });
  const json = await readJson(join(input.staging, 'artifact.json'), 64 * 1024);
  if (json === undefined) throw missing('artifact.json is missing');
  const files = entries.filter((e) => e.name !== 'artifact.json');
  if (files.length !== 1 || !files[0]!.isFile()) throw missing(`found ${files.length === 0 ? 'nothing else' : files.map((f) => f.name + (f.isFile() ? '' : '/')).join(', ')}`);
  const shape = artifactJson.safeParse(json);
  const meta = shape.success ? fileArtifactSchema.safeParse({ type, ...shape.data }) : shape;
  if (!meta.success) throw missing(`artifact.json: ${meta.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  const m = meta.data as FileArtifact;
  if (type === 'archive' && !m.format) throw missing('artifact.json: format is required for an archive (tar.gz, zip, …)');
  const path = join(input.staging, files[0]!.name);
  const digest = await sha256File(path);
  const size = (await lstat(path)).size;
  return {
    source: { kind: 'file', path },
    file: m,
    outputs: { digest, size: String(size), os: m.os, arch: m.arch, ...(m.format ? { format: m.format } : {}) },
  };
}

async function readJson(path: string, limit: number): Promise<unknown> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  if (info.size > limit) return null;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}
