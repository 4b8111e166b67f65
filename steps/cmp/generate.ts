import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { verifyImage, type VerifyOptions } from '../lib/cosign.ts';
import { digestOf } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import { readRelease } from '../lib/release/release-image.ts';
import type { UnpackLimits } from '../lib/release/resources-layer.ts';

/**
 * The Argo CD plugin's `generate` (Config Management Plugin v2): from a directory of the GitOps
 * repository (`environments/<env>/<repository>/<project>`), the Kubernetes objects of the
 * release its pointer names — the Release OCI image verified against the configured key first,
 * pulled by that digest, its resources checked and unpacked under limits — sorted by kind and
 * name, then the directory's own `env.yaml`. Only YAML reaches stdout; every refusal names the
 * pointer file, the field or the image, and the cause.
 */
const POINTER_FILE = 'release.yaml';
const MAX_LOCAL_BYTES = 1024 * 1024;

const pointerSchema = z.object({
  apiVersion: z.literal('forge.projectcatalyst.io/v1'),
  kind: z.literal('ReleasePointer'),
  metadata: z.object({ name: z.string().min(1), environment: z.string().min(1) }),
  spec: z.object({ release: z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-character commit SHA') }).loose(),
});

export interface GenerateOptions {
  /** The application's directory in the GitOps checkout. */
  dir: string;
  /** Its path in the repository (Argo CD's ARGOCD_APP_SOURCE_PATH): `environments/<env>/<repository>/<project>`. */
  path: string;
  /** Where Release OCI images are: `<registry>/<prefix>`; the image is `<this>/<repository>/<project>:<commit>`. */
  releaseRegistry: string;
  verify: VerifyOptions;
  limits?: UnpackLimits;
}

export interface Generated {
  image: string;
  objects: number;
  yaml: string;
}

export async function generate(opts: GenerateOptions): Promise<Generated> {
  const file = join(opts.dir, POINTER_FILE);
  const where = `${opts.path}/${POINTER_FILE}`;
  const pointer = pointerSchema.safeParse(parseYaml(await readLocal(file, where), where));
  if (!pointer.success) throw new ForgeError('RELEASE_INVALID', `${where}: not a ReleasePointer`, pointer.error.issues.map((i) => ({ file: where, field: i.path.join('.'), message: i.message })));
  const m = /^environments\/([^/]+)\/(.+)\/([^/]+)$/.exec(opts.path.replace(/\/+$/, ''));
  if (!m) throw new ForgeError('RELEASE_INVALID', `${opts.path}: not an environments/<env>/<repository>/<project> directory`);
  const [, env, repository, project] = m as unknown as [string, string, string, string];
  const p = pointer.data;
  if (p.metadata.environment !== env) throw new ForgeError('RELEASE_INVALID', `${where}: metadata.environment is ${p.metadata.environment}, but the file is under environments/${env}`, [{ file: where, field: 'metadata.environment', message: `expected ${env}` }]);
  if (p.metadata.name !== project) throw new ForgeError('RELEASE_INVALID', `${where}: metadata.name is ${p.metadata.name}, but the directory is ${project}`, [{ file: where, field: 'metadata.name', message: `expected ${project}` }]);

  // Verify, then read by the digest that was verified: a tag moved in between changes nothing.
  const tagged = `${opts.releaseRegistry.replace(/\/+$/, '')}/${repository}/${project}:${p.spec.release}`;
  const digest = await digestOf(tagged).catch((e: Error) => {
    throw new ForgeError('RELEASE_INVALID', `${where}: spec.release ${p.spec.release}: no release image ${tagged} (${e.message})`);
  });
  const pinned = `${tagged.slice(0, tagged.lastIndexOf(':'))}@${digest}`;
  await verifyImage(pinned, opts.verify);
  const release = await readRelease(pinned, opts.limits);
  if (release.metadata.source.commit !== p.spec.release || release.metadata.project !== project) {
    throw new ForgeError('RELEASE_INVALID', `${pinned}: its metadata is the release of ${release.metadata.project} at ${release.metadata.source.commit}, not ${project} at ${p.spec.release} (${where})`);
  }
  const objects = release.files.flatMap((f) => documents(f.content, `${pinned} ${f.name}`));
  objects.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  const local = await readLocal(join(opts.dir, 'env.yaml'), `${opts.path}/env.yaml`, true);
  const extra = local === undefined ? [] : documents(local, `${opts.path}/env.yaml`);
  const all = [...objects, ...extra];
  return { image: pinned, objects: all.length, yaml: all.map((o) => o.text).join('---\n') };
}

interface K8sObject {
  kind: string;
  name: string;
  text: string;
}

/** The objects of a multi-document YAML file; each needs apiVersion, kind and metadata.name. */
function documents(text: string, where: string): K8sObject[] {
  const docs = YAML.parseAllDocuments(text);
  return docs.flatMap((doc, i) => {
    if (doc.errors.length > 0) throw new ForgeError('RELEASE_INVALID', `${where}: document ${i + 1}: ${doc.errors[0]!.message}`);
    const value = doc.toJS({ maxAliasCount: 100 }) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
    if (value === null || value === undefined) return [];
    const missing = [typeof value.apiVersion !== 'string' && 'apiVersion', typeof value.kind !== 'string' && 'kind', typeof value.metadata?.name !== 'string' && 'metadata.name'].filter(Boolean);
    if (missing.length > 0) throw new ForgeError('RELEASE_INVALID', `${where}: document ${i + 1} is not a Kubernetes object: no ${missing.join(', ')}`);
    return [{ kind: value.kind as string, name: value.metadata!.name as string, text: YAML.stringify(value) }];
  });
}

async function readLocal(file: string, where: string, optional = false): Promise<string | undefined> {
  const info = await lstat(file).catch(() => undefined); // lstat: a link to a file elsewhere is refused
  if (!info) {
    if (optional) return undefined;
    throw new ForgeError('RELEASE_INVALID', `${where}: no release pointer here`);
  }
  if (!info.isFile() || info.size > MAX_LOCAL_BYTES) throw new ForgeError('RELEASE_INVALID', `${where}: not a regular file (a link, a directory) or over ${MAX_LOCAL_BYTES} bytes`);
  return readFile(file, 'utf8');
}

function parseYaml(text: string | undefined, where: string): unknown {
  try {
    return YAML.parse(text ?? '', { maxAliasCount: 100 });
  } catch (e) {
    throw new ForgeError('RELEASE_INVALID', `${where}: not YAML (${(e as Error).message})`);
  }
}
