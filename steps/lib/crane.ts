import { ForgeError } from './errors.ts';
import { isPlainHttpRegistry, lastLines, runTool } from './exec.ts';

/** Typed wrapper of the real `crane` (go-containerregistry) for registry reads and copies. */

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

function flags(reference: string): string[] {
  return isPlainHttpRegistry(reference) ? ['--insecure'] : [];
}

export function isIndex(m: Manifest): boolean {
  return m.mediaType === OCI_INDEX || m.mediaType === DOCKER_LIST || (Array.isArray(m.manifests) && !m.layers);
}

/** The digest a reference resolves to (a tag is resolved; a digest reference is checked to exist). */
export async function digestOf(reference: string): Promise<string> {
  return (await runTool('crane', ['digest', ...flags(reference), reference])).stdout.trim();
}

/** The raw manifest bytes (as a string) and their parse. */
export async function manifestOf(reference: string): Promise<{ raw: string; manifest: Manifest }> {
  const { stdout } = await runTool('crane', ['manifest', ...flags(reference), reference]);
  return { raw: stdout, manifest: JSON.parse(stdout) as Manifest };
}

/** True when the reference exists (a 404/MANIFEST_UNKNOWN is false; other failures throw). */
export async function exists(reference: string): Promise<boolean> {
  const r = await runTool('crane', ['digest', ...flags(reference), reference], { allowFailure: true });
  if (r.exitCode === 0) return true;
  if (/MANIFEST_UNKNOWN|NAME_UNKNOWN|404|not found/i.test(r.stderr)) return false;
  return (await runTool('crane', ['digest', ...flags(reference), reference])).exitCode === 0;
}

/** The tags of a repository (none when the repository does not exist yet). */
export async function tagsOf(repository: string): Promise<string[]> {
  const r = await runTool('crane', ['ls', ...flags(repository), repository], { allowFailure: true });
  if (r.exitCode !== 0) {
    if (/NAME_UNKNOWN|404/i.test(r.stderr)) return [];
    throw new ForgeError('TOOL_FAILED', `crane ls ${repository} failed: ${lastLines(r.stderr)}`);
  }
  return r.stdout.split('\n').filter(Boolean);
}

/** The bytes of one blob (`repository@sha256:…`), as text: small blobs only (signatures, attestations). */
export async function blobOf(reference: string): Promise<string> {
  return (await runTool('crane', ['blob', ...flags(reference), reference])).stdout;
}

/** The image config JSON of a single-platform image. */
export async function configOf(reference: string): Promise<{ config?: { User?: string } } & Record<string, unknown>> {
  const { stdout } = await runTool('crane', ['config', ...flags(reference), reference]);
  return JSON.parse(stdout);
}

/** `crane copy` of a reference with everything it points to (the promotion benchmark's peer). */
export async function copy(source: string, target: string): Promise<void> {
  const insecure = isPlainHttpRegistry(source) || isPlainHttpRegistry(target) ? ['--insecure'] : [];
  await runTool('crane', ['copy', ...insecure, source, target]);
}

/** Runs any crane command (tests and the bench build images with `append`/`mutate`). */
export async function crane(args: string[]): Promise<string> {
  return (await runTool('crane', args)).stdout;
}
