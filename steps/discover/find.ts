import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';
import { listFiles } from '../lib/git.ts';
import { LIMITS, pathProblem, printable } from './limits.ts';

export interface ForgeFiles {
  /** `.forge/repo.cue`, when the repository has one. */
  repo?: string;
  /** Every `<dir>/.forge/project.cue`, repository-relative, sorted. */
  projects: string[];
  /** Files skipped on purpose (symbolic links), with why. */
  skipped: { file: string; reason: string }[];
}

/**
 * Finds the forge configuration files of a checkout. Git decides what exists (`.gitignore` is
 * honoured as git honours it); symbolic links are skipped (a link could point outside the
 * repository or make one project appear twice); a `.forge` inside another `.forge` is an error.
 * The repository is not trusted: a path outside the plain character set, too long or too deep,
 * and more projects than LIMITS.projects refuse the run (the path is printed escaped).
 */
export async function findForgeFiles(root: string): Promise<ForgeFiles> {
  const candidates = await listFiles(root, [':(glob)**/.forge/repo.cue', ':(glob)**/.forge/project.cue']);
  if (candidates.length > LIMITS.projects + 1) {
    throw new ForgeError(
      'DISCOVERY_INVALID',
      `the repository has ${candidates.length} forge configuration files; discovery reads at most ${LIMITS.projects} projects per run: split the repository or narrow discovery with a path filter`,
      [{ file: printable(candidates[LIMITS.projects + 1]!), message: `project ${LIMITS.projects + 1} and later are over the limit` }],
    );
  }
  const refused: ForgeErrorDetail[] = candidates.flatMap((file) => {
    const problem = pathProblem(file);
    return problem ? [{ file: printable(file), message: problem }] : [];
  });
  if (refused.length > 0) {
    throw new ForgeError('DISCOVERY_INVALID', `${refused.length} forge configuration file path(s) refused`, refused);
  }
  const nested: ForgeErrorDetail[] = [];
  const found: ForgeFiles = { projects: [], skipped: [] };
  for (const file of candidates) {
    const segments = file.split('/');
    if (segments.filter((s) => s === '.forge').length > 1) {
      nested.push({ file, message: 'a .forge directory inside another .forge directory is not allowed (sub-directories of .forge are reserved)' });
      continue;
    }
    const stat = await lstat(join(root, file)).catch(() => undefined);
    if (!stat) continue; // tracked but deleted in the work tree
    if (stat.isSymbolicLink() || (await hasSymlinkedParent(root, segments))) {
      found.skipped.push({ file, reason: 'symbolic link' });
      continue;
    }
    const name = posix.basename(file);
    const dir = posix.dirname(posix.dirname(file));
    if (name === 'repo.cue') {
      if (dir !== '.') {
        nested.push({ file, message: 'repo.cue belongs in the repository root .forge directory only' });
        continue;
      }
      found.repo = file;
    } else {
      found.projects.push(file);
    }
  }
  if (nested.length > 0) {
    throw new ForgeError('DISCOVERY_INVALID', `${nested.length} misplaced forge configuration file(s)`, nested);
  }
  return found;
}

/** Git lists files below a symlinked directory only if they are tracked through it; check anyway. */
async function hasSymlinkedParent(root: string, segments: string[]): Promise<boolean> {
  for (let i = 1; i < segments.length; i++) {
    const stat = await lstat(join(root, ...segments.slice(0, i))).catch(() => undefined);
    if (stat?.isSymbolicLink()) return true;
  }
  return false;
}
