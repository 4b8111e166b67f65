import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { ForgeError } from './errors.ts';
import { redactUrl, redactUrlsIn } from './log.ts';
import { toolPath } from './tools.ts';

function git(dir: string): SimpleGit {
  return simpleGit({ baseDir: dir, binary: toolPath('git'), maxConcurrentProcesses: 4 });
}

/** A commit checked out somewhere on disk; `cleanup` removes it when it is a temporary clone. */
export interface Checkout {
  dir: string;
  commit: string;
  /** True when `dir` is the caller's own work tree (which may hold uncommitted changes). */
  workTree: boolean;
  /** The work tree's current branch, when it is used in place and not detached. */
  branch?: string;
  cleanup(): Promise<void>;
}

export const FULL_SHA = /^[0-9a-f]{40}$/;

/** True for things git treats as remote URLs rather than local paths. */
export function isGitUrl(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^[\w.-]+@[\w.-]+:/.test(source);
}

export async function isWorkTree(dir: string): Promise<boolean> {
  try {
    return (await git(dir).raw(['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
  } catch {
    return false;
  }
}

export async function headCommit(dir: string): Promise<string | undefined> {
  try {
    return (await git(dir).revparse(['HEAD'])).trim();
  } catch {
    return undefined; // a repository without commits yet
  }
}

/**
 * Fetches exactly one commit (or ref) with depth 1 into a new temporary directory and checks it
 * out detached: the least a step needs, and what the hot pools do from their bare mirror.
 */
export async function shallowCheckout(url: string, ref: string): Promise<Checkout> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-checkout-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const g = git(dir);
    await g.init();
    await g.addRemote('origin', url);
    await g.raw(['-c', 'protocol.version=2', 'fetch', '--depth', '1', '--no-tags', 'origin', ref]);
    await g.raw(['checkout', '--detach', '--quiet', 'FETCH_HEAD']);
    const commit = (await g.revparse(['HEAD'])).trim();
    if (FULL_SHA.test(ref) && commit !== ref) {
      throw new ForgeError('GIT_FAILED', `fetched ${ref} from ${redactUrl(url)} but got ${commit}`);
    }
    return { dir, commit, workTree: false, cleanup };
  } catch (cause) {
    await cleanup();
    if (cause instanceof ForgeError) throw cause;
    const detail = redactUrlsIn(cause instanceof Error ? cause.message.trim().split('\n').slice(-2).join(' ') : String(cause), url);
    throw new ForgeError('GIT_FAILED', `cannot fetch ${ref} from ${redactUrl(url)}: ${detail}`, [], { cause });
  }
}

/**
 * Opens a source for reading: a git URL is fetched shallowly at `ref`; a local work tree is used
 * in place unless a different commit is asked for, which is then fetched from it shallowly.
 */
export async function openSource(source: string, ref?: string): Promise<Checkout> {
  if (isGitUrl(source)) return shallowCheckout(source, ref ?? 'HEAD');
  const dir = resolve(source);
  if (!(await isWorkTree(dir))) {
    throw new ForgeError('GIT_FAILED', `${source} is not inside a git work tree: discovery reads a commit (run \`git init\` and commit, or pass a git URL)`);
  }
  const head = await headCommit(dir);
  if (!ref || ref === head || ref === 'HEAD') {
    const branch = (await git(dir).raw(['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '')).trim();
    return { dir, commit: head ?? '0'.repeat(40), workTree: true, ...(branch ? { branch } : {}), cleanup: async () => undefined };
  }
  const top = (await git(dir).revparse(['--show-toplevel'])).trim();
  const checkout = await shallowCheckout(`file://${top}`, ref);
  const sub = dir.slice(top.length); // keep the same sub-directory inside the fetched commit
  return { ...checkout, dir: join(checkout.dir, sub) };
}

/**
 * Files under `dir` as git sees them: tracked plus untracked-but-not-ignored, so `.gitignore`
 * (at every level, plus .git/info/exclude) is honoured exactly as git does. Paths are relative
 * to `dir`, `/`-separated. `pathspecs` narrow the listing (git pathspec syntax).
 */
export async function listFiles(dir: string, pathspecs: string[] = []): Promise<string[]> {
  const out = await git(dir).raw(['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...pathspecs]);
  return [...new Set(out.split('\0').filter(Boolean))].sort();
}
