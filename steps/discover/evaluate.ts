import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CueFailure, cueExport, type CueDiagnostic } from '../lib/cue.ts';
import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';
import { projectConfigSchema, repoConfigSchema, type ProjectConfig, type RepoConfig } from './config.ts';

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

const MODULE = 'forge.local/discover';

/**
 * Evaluates `.forge/repo.cue` and any number of `.forge/project.cue` files with ONE `cue export`.
 *
 * A throw-away CUE module holds the shipped schema and a generated `main.cue` that imports each
 * user file as its own package instance (`f/<i>:project`, the file symlinked in) and unifies it
 * with the closed definition: `projects: "<i>": #Project & p<i>`. Each project stays a separate
 * instance — no cross-project unification — yet cue starts once, which is what makes discovery
 * of a 100-project repository fast. cue's positions in the temporary module are mapped back to
 * the repository's file names.
 */
export async function evaluateForgeFiles(root: string, repoFile: string, projectFiles: string[]): Promise<Evaluated> {
  await checkPackageClauses(root, [[repoFile, 'repo'], ...projectFiles.map((f) => [f, 'project'] as [string, string])]);
  const work = await mkdtemp(join(tmpdir(), 'forge-cue-'));
  try {
    const dirs = [repoFile, ...projectFiles];
    await mkdir(join(work, 'cue.mod'), { recursive: true });
    await writeFile(join(work, 'cue.mod', 'module.cue'), `module: "${MODULE}"\nlanguage: version: "v0.14.0"\n`);
    await copyFile(schemaPath(), join(work, 'schema.cue'));
    await Promise.all(
      dirs.map(async (file, i) => {
        await mkdir(join(work, 'f', String(i)), { recursive: true });
        await symlink(join(root, file), join(work, 'f', String(i), posix.basename(file)));
      }),
    );
    await writeFile(join(work, 'main.cue'), mainFile(projectFiles.length));
    let raw: unknown;
    try {
      raw = await cueExport({ cwd: work, instances: ['.'] });
    } catch (e) {
      if (e instanceof CueFailure) throw toForgeError(e.diagnostics, dirs);
      throw e;
    }
    const value = raw as { repo: unknown; projects: Record<string, unknown> };
    return {
      repo: repoConfigSchema.parse(value.repo),
      projects: projectFiles.map((_, i) => projectConfigSchema.parse(value.projects[String(i + 1)])),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function mainFile(projectCount: number): string {
  const imports = [`\tr "${MODULE}/f/0:repo"`];
  const fields: string[] = [];
  for (let i = 1; i <= projectCount; i++) {
    imports.push(`\tp${i} "${MODULE}/f/${i}:project"`);
    fields.push(`\t"${i}": #Project & p${i}`);
  }
  return `package forge\n\nimport (\n${imports.join('\n')}\n)\n\nrepo: #Repo & r\n\nprojects: {\n${fields.join('\n')}\n}\n`;
}

/**
 * A file whose package clause is wrong or missing would silently evaluate to an empty instance;
 * say so precisely instead.
 */
async function checkPackageClauses(root: string, files: [string, string][]): Promise<void> {
  const details: ForgeErrorDetail[] = [];
  await Promise.all(
    files.map(async ([file, expected]) => {
      const text = await readFile(join(root, file), 'utf8');
      const lines = text.split('\n');
      const index = lines.findIndex((l) => /^\s*package\s+/.test(l));
      const actual = index >= 0 ? /^\s*package\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(lines[index]!)?.[1] : undefined;
      if (actual !== expected) {
        details.push({
          file,
          line: index >= 0 ? index + 1 : 1,
          column: 1,
          message: actual ? `expected \`package ${expected}\`, found \`package ${actual}\`` : `missing \`package ${expected}\` clause`,
        });
      }
    }),
  );
  if (details.length > 0) {
    details.sort((a, b) => a.file!.localeCompare(b.file!));
    throw new ForgeError('CUE_INVALID', `${details.length} forge configuration file(s) have the wrong CUE package`, details);
  }
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
