import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';

/**
 * What discovery accepts from a repository it does not trust, and why (docs/discovery-contract.md,
 * "Limits"). Everything a repository controls that reaches an Argo parameter, a task's JSON, a
 * regular expression or the `cue` process is bounded here or in the shipped CUE schema.
 */
export const LIMITS = {
  /** Projects per run: 100 evaluate in about a second; the 1 MiB output cap bites near a few hundred. */
  projects: 500,
  /** Bytes of one `.forge/*.cue` file. */
  cueFileBytes: 128 * 1024,
  /** Bytes of all forge configuration files together. */
  cueTotalBytes: 8 * 1024 * 1024,
  /** Characters of a project directory path, and its number of segments. */
  pathLength: 255,
  pathDepth: 16,
  /** Characters of a branch release-trigger regular expression, and triggers per project. */
  patternLength: 256,
  triggers: 32,
  /** Characters of a name (project, phase, step, artifact, publisher): a Kubernetes label value. */
  nameLength: 63,
  /** `--branch`, `--tag` (git allows longer refs; nobody needs them) and `--paths` globs. */
  refLength: 255,
  globLength: 256,
  globs: 32,
} as const;

/** Lower-case kebab-case, as `#Name` in steps/lib/cue/forge.cue: a Kubernetes label value and Argo name part. */
export const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** One directory segment of a project path: letters, digits, `.`, `_`, `-`; never `.`/`..` or a leading `-`. */
const SEGMENT = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;

/** A path as it may be printed: control characters and quotes escaped, so it cannot forge a log line. */
export function printable(path: string): string {
  const escaped = JSON.stringify(path.length > 300 ? `${path.slice(0, 300)}…` : path).slice(1, -1);
  return escaped;
}

/**
 * Why a repository-relative forge file path is refused, or undefined when it is acceptable.
 * The project directory (everything before `.forge/`) becomes a task's `path` and an Argo
 * parameter, so it must be relative, free of `..`, control characters and shell metacharacters,
 * and bounded in length and depth.
 */
export function pathProblem(file: string): string | undefined {
  if (file.length > LIMITS.pathLength + '/.forge/project.cue'.length) return `the path is longer than ${LIMITS.pathLength} characters`;
  if (file.startsWith('/')) return 'the path is absolute';
  const segments = file.split('/');
  if (segments.length - 2 > LIMITS.pathDepth) return `the project directory is more than ${LIMITS.pathDepth} levels deep`;
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') return 'the path has an empty, "." or ".." segment';
    if (!SEGMENT.test(s)) {
      return `the path segment "${printable(s)}" has characters outside [A-Za-z0-9._-] (or starts with "-"): names that reach Argo parameters and task JSON must be plain`;
    }
  }
  return undefined;
}

/** A value given on the command line or by the submitter (branch, tag): bounded, printable, no git-forbidden characters. */
export function refProblem(value: string): string | undefined {
  if (value.length > LIMITS.refLength) return `longer than ${LIMITS.refLength} characters`;
  // git check-ref-format: no control characters, space, ~ ^ : ? * [ \, no "..", no leading "-".
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(value) || value.includes('..') || value.startsWith('-')) {
    return 'not a valid git ref name (control characters, spaces, ~ ^ : ? * [ \\, ".." and a leading "-" are not allowed)';
  }
  return undefined;
}

/** Path filter globs (steps/discover/globs.ts): bounded count and length, printable. */
export function checkGlobs(globs: string[]): void {
  const details: ForgeErrorDetail[] = [];
  if (globs.length > LIMITS.globs) details.push({ field: '--paths', message: `${globs.length} globs, at most ${LIMITS.globs} are allowed` });
  for (const g of globs) {
    if (g.length > LIMITS.globLength) details.push({ field: '--paths', message: `glob "${printable(g)}" is longer than ${LIMITS.globLength} characters` });
    // eslint-disable-next-line no-control-regex
    else if (/[\u0000-\u001f\u007f]/.test(g)) details.push({ field: '--paths', message: `glob "${printable(g)}" has control characters` });
  }
  if (details.length > 0) throw new ForgeError('INVALID_ARGS', 'invalid path filter', details);
}
