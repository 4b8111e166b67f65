import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { CueFailure, CueLimitExceeded, cueExport } from '../lib/cue.ts';
import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';
import type { ResourceFile } from '../lib/release/resources-layer.ts';
import { mainFile, toForgeError, writeModule, type EvaluateLimits } from './evaluate.ts';
import { UNRELEASED } from './placeholders.ts';
import { schemaProblems } from './resource-schema.ts';
import { readForgeSources } from './sources.ts';

/**
 * Renders a project's `deployment.resources` for a release: its `project.cue` evaluated with the
 * real `cue` as discovery evaluates it (same checks, same limits), with the release's artifact
 * values injected as `forge.artifacts["<name>"]` in the project's own package. A reference to an
 * artifact the project does not declare fails in cue, naming the file and line; one the release
 * did not publish fails here, naming the resource and the artifact. Every object needs
 * apiVersion, kind and metadata.name, and the common kinds must pass their Kubernetes schema.
 */
export interface ArtifactValues {
  uri: string;
  digest: string;
  /** The producer's outputs (`forge.artifacts[n].producer.<field>`). */
  producer?: Record<string, string>;
  /** Publisher name → its outputs (`forge.artifacts[n].publishers.<publisher>.<field>`). */
  publishers?: Record<string, Record<string, string>>;
}

export interface RenderInput {
  /** The checkout. */
  root: string;
  /** `.forge/repo.cue` and the project's `.forge/project.cue`, relative to `root`. */
  repoFile: string;
  projectFile: string;
  /** Artifact name → what its publishers produced. */
  artifacts: Record<string, ArtifactValues>;
  limits?: EvaluateLimits;
}

export interface Rendered {
  resources: Record<string, unknown>[];
  /** One YAML file per object, `<kind>-<name>.yaml`: the Release OCI image's resources layer. */
  files: ResourceFile[];
}

export async function renderResources(input: RenderInput): Promise<Rendered> {
  const files = [input.repoFile, input.projectFile];
  const texts = await readForgeSources(input.root, files);
  const work = await mkdtemp(join(tmpdir(), 'forge-render-'));
  try {
    const module = await writeModule(work, files, texts, { 1: releasedValues(input.artifacts) });
    await writeFile(join(work, 'main.cue'), mainFile(module, [1]));
    let raw: unknown;
    try {
      raw = await cueExport({ cwd: work, instances: ['.'], memoryBytes: input.limits?.memoryBytes, timeoutMs: input.limits?.timeoutMs });
    } catch (e) {
      if (e instanceof CueFailure) throw toForgeError(e.diagnostics, files);
      if (e instanceof CueLimitExceeded) throw new ForgeError('CUE_INVALID', `${input.projectFile}: rendering ${e.message}`, [{ file: input.projectFile, message: e.message }]);
      throw e;
    }
    const resources = ((raw as { projects: Record<string, { deployment?: { resources?: Record<string, unknown>[] } }> }).projects['1']?.deployment?.resources ?? []);
    check(resources, input.projectFile);
    return { resources, files: toFiles(resources) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The release's values as CUE in the project's package: every value a JSON string literal (a CUE string), every key checked. */
function releasedValues(artifacts: Record<string, ArtifactValues>): string {
  const str = JSON.stringify;
  const fields = (values: Record<string, string> | undefined, what: string) =>
    `{${Object.entries(values ?? {}).map(([k, v]) => {
      if (!OUTPUT_NAME.test(k)) throw new ForgeError('INVALID_ARGS', `${what}: output name ${str(k)} is not a lower-case name`);
      if (typeof v !== 'string') throw new ForgeError('INVALID_ARGS', `${what}: output ${k} is not a string`);
      return `${str(k)}: ${str(v)}`;
    }).join(', ')}}`;
  const entries = Object.entries(artifacts).map(([name, v]) => {
    if (!FORGE_NAME.test(name)) throw new ForgeError('INVALID_ARGS', `artifact name ${str(name)} is not a forge name`);
    const publishers = Object.entries(v.publishers ?? {}).map(([p, outputs]) => {
      if (!FORGE_NAME.test(p)) throw new ForgeError('INVALID_ARGS', `artifact ${name}: publisher name ${str(p)} is not a forge name`);
      return `${str(p)}: ${fields(outputs, `artifact ${name}, publisher ${p}`)}`;
    });
    return `\t${str(name)}: {uri: ${str(v.uri)}, digest: ${str(v.digest)}, producer: ${fields(v.producer, `artifact ${name}, producer`)}, publishers: {${publishers.join(', ')}}}`;
  });
  return `package project\n\n// Written by forge-workflows for this release.\nforge: artifacts: {\n${entries.join('\n')}\n}\n`;
}

const FORGE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const OUTPUT_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** A placeholder and what it stands for: the artifact, and a producer or publisher output. */
const PLACEHOLDER = new RegExp(`${UNRELEASED}([a-z0-9-]+)(?:/producer/([a-z0-9_]+)|/publishers/([a-z0-9-]+)/([a-z0-9_]+))?`, 'g');

function unreleasedUses(resource: unknown): string[] {
  const found = new Set<string>();
  for (const m of JSON.stringify(resource).matchAll(PLACEHOLDER)) {
    const [, artifact, producerField, publisher, field] = m;
    found.add(producerField ? `output ${producerField} of artifact ${artifact}'s producer` : publisher ? `output ${field} of artifact ${artifact}'s publisher ${publisher}` : `artifact ${artifact}`);
  }
  return [...found];
}

function check(resources: Record<string, unknown>[], file: string): void {
  const details: ForgeErrorDetail[] = [];
  resources.forEach((r, i) => {
    const meta = r.metadata as { name?: unknown } | undefined;
    const what = `deployment.resources[${i}] (${String(r.kind)} ${String(meta?.name)})`;
    for (const a of unreleasedUses(r)) details.push({ file, field: `deployment.resources.${i}`, message: `${what} uses ${a}, which this release did not publish` });
    if (typeof r.apiVersion !== 'string' || typeof r.kind !== 'string' || typeof meta?.name !== 'string') {
      details.push({ file, field: `deployment.resources.${i}`, message: `${what} needs apiVersion, kind and metadata.name` });
      return;
    }
    for (const p of schemaProblems(r as { apiVersion: string; kind: string })) details.push({ file, field: `deployment.resources.${i}${p.path ? `.${p.path}` : ''}`, message: `${what}: ${p.path || '(object)'} ${p.message}` });
  });
  if (details.length > 0) throw new ForgeError('CUE_INVALID', `${file}: ${details.length} problem(s) in deployment.resources`, details);
}

function toFiles(resources: Record<string, unknown>[]): ResourceFile[] {
  const used = new Set<string>();
  return resources.map((r) => {
    const base = `${String(r.kind).toLowerCase()}-${String((r.metadata as { name: string }).name)}`.replace(/[^a-z0-9._-]/gi, '-');
    let name = `${base}.yaml`;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}.yaml`;
    used.add(name);
    return { name, content: YAML.stringify(r) };
  });
}
