import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { ForgeError } from '../lib/errors.ts';
import { acquireFileLock } from '../lib/file-lock.ts';
import { withKeyedLock } from '../lib/keyed-lock.ts';
import { redactUrl, redactUrlsIn } from '../lib/log.ts';
import { toolPath } from '../lib/tools.ts';

/**
 * The worker's git cache on its persistent volume: one bare mirror per repository URL under
 * `<root>/repos`, the exact commit fetched into it under a lock, and `git worktree`s of it under
 * `<root>/workspaces`, one per job at a time. A worktree a job released is reset and given to the
 * next job of that repository (`checkout --force` of its commit, `clean -ffdx`): only the files
 * that differ are written, where a fresh worktree writes the whole tree. Mirrors not used for the
 * longest are evicted (with their idle worktrees) when the cache grows over its size limit.
 */
export interface Workspace {
  dir: string;
  /** The commit was already in the mirror: nothing was fetched. */
  hit: boolean;
  /** The worktree was an earlier job's, reset to this commit. */
  reused: boolean;
  /** Gives the worktree back for the next job (its files are reset before that job sees them). */
  release(): Promise<void>;
}

const LAST_USED = 'forge-last-used';

export class GitCache {
  constructor(
    readonly root: string,
    /** Evict least-recently-used mirrors above this size (bytes). */
    private readonly maxBytes = 50 * 1024 ** 3,
  ) {}

  mirrorOf(url: string): string {
    const name = url.replace(/\.git$/, '').split(/[/:]/).pop()?.replace(/[^A-Za-z0-9_.-]/g, '') || 'repo';
    return join(this.root, 'repos', `${name}-${createHash('sha256').update(url).digest('hex').slice(0, 16)}.git`);
  }

  private async git(args: string[], cwd: string, url?: string): Promise<string> {
    const r = await execa(toolPath('git'), args, { cwd, reject: false, env: { GIT_TERMINAL_PROMPT: '0' } });
    if (r.exitCode !== 0) {
      const detail = url ? redactUrlsIn(r.stderr, url) : r.stderr;
      throw new ForgeError('GIT_FAILED', `git ${args[0]} failed${url ? ` for ${redactUrl(url)}` : ''}: ${detail.trim().split('\n').slice(-3).join(' ')}`);
    }
    return r.stdout;
  }

  /** At start: worktrees of jobs that died with a previous worker are removed and pruned. */
  async prune(): Promise<void> {
    await mkdir(join(this.root, 'repos'), { recursive: true });
    await rm(join(this.root, 'workspaces'), { recursive: true, force: true });
    await mkdir(join(this.root, 'workspaces'), { recursive: true });
    for (const mirror of await readdir(join(this.root, 'repos'))) {
      await this.git(['worktree', 'prune'], join(this.root, 'repos', mirror)).catch(() => undefined);
    }
  }

  /** Runs `fn` holding the mirror's lock: in this process (slots) and on disk (another worker process). */
  private async locked<T>(mirror: string, fn: () => Promise<T>): Promise<T> {
    return withKeyedLock(mirror, async () => {
      const lock = await acquireFileLock(`${mirror}.lock`, { timeoutMs: 10 * 60_000, what: `the git mirror ${mirror}`, code: 'GIT_FAILED' });
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    });
  }

  /** Worktrees released by finished jobs, by mirror, and how many are in use. */
  private readonly idle = new Map<string, string[]>();
  private readonly inUse = new Map<string, number>();
  private serial = 0;

  /** The commit as a worktree for one job: a released one reset to the commit, or a new one. */
  async checkout(url: string, commit: string, jobDir: string): Promise<Workspace> {
    const mirror = this.mirrorOf(url);
    const { hit, dir, reused } = await this.locked(mirror, async () => {
      let present = false;
      try {
        await stat(join(mirror, 'HEAD'));
        present = (await execa(toolPath('git'), ['cat-file', '-e', `${commit}^{commit}`], { cwd: mirror, reject: false })).exitCode === 0;
      } catch {
        await mkdir(mirror, { recursive: true });
        await this.git(['init', '--bare', '--quiet'], mirror);
        await this.git(['remote', 'add', 'origin', url], mirror, url);
      }
      if (!present) await this.git(['fetch', '--quiet', '--no-tags', 'origin', commit], mirror, url);
      if (!present) this.grew = true;
      const pooled = this.idle.get(mirror)?.pop();
      let dir = pooled;
      if (dir) {
        // Whatever the last job changed, added or ignored goes; the tree is the commit's.
        await this.git(['checkout', '--force', '--detach', '--quiet', commit], dir);
        await this.git(['clean', '-ffdxq'], dir);
      } else {
        dir = join(this.root, 'workspaces', `${basename(mirror, '.git')}-${++this.serial}`);
        await rm(dir, { recursive: true, force: true });
        await this.git(['worktree', 'add', '--detach', '--quiet', dir, commit], mirror);
        this.grew = true;
      }
      this.inUse.set(mirror, (this.inUse.get(mirror) ?? 0) + 1);
      const now = new Date();
      await writeFile(join(mirror, LAST_USED), `${now.toISOString()} ${jobDir}\n`);
      await utimes(join(mirror, LAST_USED), now, now);
      return { hit: present, dir, reused: pooled !== undefined };
    });
    let released = false;
    return {
      dir,
      hit,
      reused,
      release: async () => {
        if (released) return;
        released = true;
        this.inUse.set(mirror, (this.inUse.get(mirror) ?? 1) - 1);
        this.idle.set(mirror, [...(this.idle.get(mirror) ?? []), dir]);
      },
    };
  }

  private grew = false;
  private lastEvict = 0;

  /**
   * Evicts when the cache may have grown (a fetch or a new worktree since the last look) and at
   * most once a minute: measuring the cache walks every mirror, too much to do after every job.
   */
  async evictIfGrown(minIntervalMs = 60_000): Promise<string[]> {
    if (!this.grew || Date.now() - this.lastEvict < minIntervalMs) return [];
    this.grew = false;
    this.lastEvict = Date.now();
    return this.evict();
  }

  /** Removes least-recently-used mirrors (none with a job in a worktree) until the cache fits. */
  async evict(): Promise<string[]> {
    const reposDir = join(this.root, 'repos');
    const mirrors = await Promise.all(
      (await readdir(reposDir)).filter((n) => n.endsWith('.git')).map(async (n) => {
        const path = join(reposDir, n);
        const used = await stat(join(path, LAST_USED)).then((st) => st.mtimeMs, () => 0);
        const worktrees = await worktreesOf(path);
        const bytes = (await diskUsage(path)) + (await Promise.all(worktrees.map(diskUsage))).reduce((a, b) => a + b, 0);
        return { path, used, bytes };
      }),
    );
    let total = mirrors.reduce((n, m) => n + m.bytes, 0);
    const evicted: string[] = [];
    for (const m of mirrors.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      await this.locked(m.path, async () => {
        if ((this.inUse.get(m.path) ?? 0) > 0) return; // a job is using it
        for (const dir of await worktreesOf(m.path)) await rm(dir, { recursive: true, force: true });
        this.idle.delete(m.path);
        await rm(m.path, { recursive: true, force: true });
        total -= m.bytes;
        evicted.push(m.path);
      });
    }
    return evicted;
  }
}

/** The worktree directories a mirror knows (`worktrees/<id>/gitdir` names each one's `.git` file). */
async function worktreesOf(mirror: string): Promise<string[]> {
  const ids = await readdir(join(mirror, 'worktrees')).catch(() => [] as string[]);
  const dirs = await Promise.all(ids.map((id) => readFile(join(mirror, 'worktrees', id, 'gitdir'), 'utf8').then((g) => dirname(g.trim()), () => undefined)));
  return dirs.filter((d): d is string => d !== undefined);
}

async function diskUsage(path: string): Promise<number> {
  const r = await execa('du', ['-sb', path], { reject: false });
  return Number.parseInt(r.stdout.split('\t')[0] ?? '0', 10) || 0;
}
