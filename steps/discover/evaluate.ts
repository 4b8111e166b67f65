import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { CUE_LIMITS, CueFailure, CueLimitExceeded, cueExport, describeLimit, type CueDiagnostic } from '../lib/cue.ts';
import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';
import { projectConfigSchema, repoConfigSchema, type ProjectConfig, type RepoConfig } from './config.ts';
import { ARTIFACT_PLACEHOLDERS } from './placeholders.ts';
import { readForgeSources } from './sources.ts';

/** Set to true by esbuild in the step bundle (steps/build.ts), where the schema sits next to it. */
declare const FORGE_BUNDLE: boolean | undefined;

/** Where the schema lives: FORGE_CUE_SCHEMA, else next to the bundle, else in the sources. */
export function schemaPath(): string {
  if (process.env.FORGE_CUE_SCHEMA) return process.env.FORGE_CUE_SCHEMA;
  const bundled = typeof FORGE_BUNDLE !== 'undefined' && FORGE_BUNDLE;
  return fileURLToPath(new URL(bundled ? './forge.cue' : '../lib/cue/forge.cue', import.meta.url));
}

export interface Evaluated {
  repo: RepoConfig;
  /** Same order as the `projectFiles` given. */
  projects: ProjectConfig[];
}

export interface EvaluateLimits {
  /** Memory limit of the cue process, bytes (CUE_LIMITS.memoryBytes by default). */
  memoryBytes?: number;
  /** Time limit of one cue run, ms (CUE_LIMITS.timeoutMs by default). */
  timeoutMs?: number;
}

/**
 * Evaluates `.forge/repo.cue` and any number of `.forge/project.cue` files with ONE `cue export`.
 *
 * A throw-away CUE module holds the shipped schema and a generated `main.cue` that imports each
 * user file as its own package instance (`f/<i>:project`, a copy of the file) and unifies it
 * with the closed definition: `projects: "<i>": #Project & p<i>`. Each project stays a separate
 * instance — no cross-project unification — yet cue starts once, which is what makes discovery
 * of a 100-project repository fast. The repository is hostile, so (docs/discovery-contract.md):
 * - the files are checked first (size, package, no file attributes, standard-library imports
 *   only: steps/discover/sources.ts);
 * - they are copied, not linked, into a module whose path is random per run: no file can name
 *   another project's package, nothing of the repository (its own `cue.mod`, other files) is
 *   visible to cue, and with `CUE_REGISTRY=none` no module is fetched;
 * - cue runs within memory, time and output limits; when one stops it, the files are halved
 *   until the file(s) that alone exceed it are found and named.
 * cue's positions in the temporary module are mapped back to the repository's file names.
 */
export async function evaluateForgeFiles(root: string, repoFile: string, projectFiles: string[], limits: EvaluateLimits = {}): Promise<Evaluated> {
  const files = [repoFile, ...projectFiles];
  const texts = await readForgeSources(root, files);
  const work = await mkdtemp(join(tmpdir(), 'forge-cue-'));
  try {
    const module = await writeModule(work, files, texts);
    const run = async (units: number[], timeoutMs?: number) => {
      await writeFile(join(work, 'main.cue'), mainFile(module, units));
      return cueExport({ cwd: work, instances: ['.'], memoryBytes: limits.memoryBytes, timeoutMs: timeoutMs ?? limits.timeoutMs });
    };
    let raw: unknown;
    try {
      raw = await run(files.map((_, i) => i));
    } catch (e) {
      if (e instanceof CueFailure) throw toForgeError(e.diagnostics, files);
      if (e instanceof CueLimitExceeded) throw await limitError(e, files, run, limits.timeoutMs ?? CUE_LIMITS.timeoutMs);
      throw e;
    }
    const value = raw as { repo: unknown; projects: Record<string, unknown> };
    return {
      repo: parseEvaluated(repoConfigSchema, value.repo, repoFile),
      projects: projectFiles.map((file, i) => parseEvaluated(projectConfigSchema, value.projects[String(i + 1)], file)),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The evaluation module in `work`: a module path random per run (so no file can name another's
 * package), the shipped schema, and each file's text copied — never linked — to `f/<i>/`.
 * Returns the module path.
 */
export async function writeModule(work: string, files: string[], texts: (string | Buffer)[], released: Record<number, string> = {}): Promise<string> {
  const module = `forge.local/discover-${randomBytes(8).toString('hex')}`;
  await mkdir(join(work, 'cue.mod'), { recursive: true });
  await writeFile(join(work, 'cue.mod', 'module.cue'), `module: "${module}"\nlanguage: version: "v0.14.0"\n`);
  await copyFile(schemaPath(), join(work, 'schema.cue'));
  await Promise.all(
    files.map(async (file, i) => {
      await mkdir(join(work, 'f', String(i)), { recursive: true });
      await writeFile(join(work, 'f', String(i), posix.basename(file)), texts[i]!);
      if (i === 0) return;
      // Beside each project's own file, in its package: `forge.artifacts`, placeholders unless a
      // release gives the values (render.ts). The names start with zz_ so they sort after.
      await writeFile(join(work, 'f', String(i), 'zz_forge_artifacts.cue'), ARTIFACT_PLACEHOLDERS);
      if (released[i]) await writeFile(join(work, 'f', String(i), 'zz_forge_release.cue'), released[i]);
    }),
  );
  return module;
}

/** `units` index `files`: 0 is repo.cue, 1… the projects. Any subset evaluates on its own. */
export function mainFile(module: string, units: number[]): string {
  const imports: string[] = [];
  const fields: string[] = [];
  let repo = '';
  for (const i of units) {
    if (i === 0) {
      imports.push(`\tr "${module}/f/0:repo"`);
      repo = 'repo: #Repo & r\n\n';
    } else {
      imports.push(`\tp${i} "${module}/f/${i}:project"`);
      fields.push(`\t"${i}": #Project & p${i}`);
    }
  }
  return `package forge\n\nimport (\n${imports.join('\n')}\n)\n\n${repo}projects: {\n${fields.join('\n')}\n}\n`;
}

/** The shipped schema validated this already; the TypeScript view re-checks it (names, bounds), naming the file. */
function parseEvaluated<T>(schema: z.ZodType<T>, value: unknown, file: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ForgeError(
    'CUE_INVALID',
    `invalid forge configuration in ${file}`,
    parsed.error.issues.map((i) => ({ file, field: i.path.map(String).join('.') || undefined, message: i.message })),
  );
}

/**
 * cue stopped at a limit: find which file(s) alone exceed it by halving the set (a memory bomb
 * dies in a second or two, so this costs O(k log n) short runs), within twice the time limit
 * overall, and name them. When no file exceeds it alone (the configuration as a whole is too
 * large) or the budget runs out first, say that instead.
 */
async function limitError(
  e: CueLimitExceeded,
  files: string[],
  run: (units: number[], timeoutMs?: number) => Promise<unknown>,
  timeoutMs: number,
): Promise<ForgeError> {
  const deadline = Date.now() + 2 * timeoutMs;
  const exceeds = async (units: number[]) => {
    try {
      await run(units, Math.max(1000, Math.min(timeoutMs, deadline - Date.now())));
      return false;
    } catch (err) {
      if (err instanceof CueLimitExceeded) return true;
      if (err instanceof CueFailure) return false;
      throw err;
    }
  };
  // Files that exceed the limit alone; halves the time budget left untested.
  const singles: number[] = [];
  const untested: number[] = [];
  const search = async (units: number[]): Promise<void> => {
    if (units.length === 1) {
      singles.push(units[0]!);
      return;
    }
    const mid = Math.ceil(units.length / 2);
    for (const half of [units.slice(0, mid), units.slice(mid)]) {
      if (Date.now() >= deadline) untested.push(...half);
      else if (await exceeds(half)) await search(half);
    }
  };
  const all = files.map((_, i) => i);
  if (files.length === 1) singles.push(0);
  else await search(all);
  const limit = describeLimit(e.limit, e.bound);
  const what = e.limit === 'time' ? 'takes longer than' : e.limit === 'memory' ? 'needs more memory than' : 'exports more than';
  if (singles.length === 0) {
    // No file exceeds it alone: the configuration as a whole is too large for the step (or the
    // time budget ran out before one was found).
    const why = untested.length > 0 ? 'the search for the file that exceeds it ran out of time' : `no single file exceeds it, the ${files.length} files together do`;
    return new ForgeError(
      'CUE_INVALID',
      `cue stopped at its ${limit} evaluating the forge configuration: ${why}: narrow discovery with a path filter, or raise the ` +
        (e.limit === 'time' ? 'discovery deadline (platform config pipeline.discoveryTimeoutSeconds)' : "discovery step's memory limit (platform config steps.resources)"),
      [{ file: files[0]!, message: `evaluating all ${files.length} forge configuration files together ${what} the ${limit} of cue allows` }],
    );
  }
  const shown = singles.slice(0, 10).map((i) => files[i]!);
  const more = singles.length > shown.length ? ` and ${singles.length - shown.length} more` : '';
  return new ForgeError(
    'CUE_INVALID',
    `cue stopped at its ${limit} evaluating the forge configuration: ${shown.join(', ')}${more} ${singles.length === 1 ? 'is' : 'are'} refused`,
    singles.map((i) => ({
      file: files[i]!,
      message: `evaluating this file alone ${what} the ${limit} of cue allows: a small file that expands (a comprehension, a list or struct doubled again and again) is refused`,
    })),
  );
}

/** Maps cue's diagnostics from the temporary module back to repository files and field paths. */
export function toForgeError(diagnostics: CueDiagnostic[], files: string[]): ForgeError {
  const details: ForgeErrorDetail[] = [];
  for (const d of diagnostics) {
    const owner = ownerOf(d.path, files);
    const userPositions = d.positions
      .map((p) => {
        const m = /(?:^|\/)f\/(\d+)\/[^/]+$/.exec(p.file);
        return m ? { ...p, file: files[Number(m[1])]! } : undefined;
      })
      .filter((p): p is NonNullable<typeof p> => p !== undefined);
    const first = userPositions[0];
    details.push({
      file: first?.file ?? owner.file,
      line: first?.line,
      column: first?.column,
      field: owner.field || undefined,
      message: d.message.replace(/^import failed: /, ''),
    });
  }
  const unique = details.filter(
    (d, i) => details.findIndex((o) => o.file === d.file && o.line === d.line && o.column === d.column && o.message === d.message) === i,
  );
  const fileCount = new Set(unique.map((d) => d.file)).size;
  return new ForgeError('CUE_INVALID', `invalid forge configuration in ${fileCount} file(s)`, unique);
}

/** `projects."3".ci.phases` → the 3rd project file, field `ci.phases`; `repo.phases` → repo.cue. */
function ownerOf(path: string, files: string[]): { file?: string; field: string } {
  const project = /^projects\."?(\d+)"?(?:\.(.*))?$/.exec(path);
  if (project) return { file: files[Number(project[1])], field: project[2] ?? '' };
  const repo = /^repo(?:\.(.*))?$/.exec(path);
  if (repo) return { file: files[0], field: repo[1] ?? '' };
  return { field: path };
}
