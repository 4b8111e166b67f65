import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ForgeError } from '../lib/errors.ts';
import { acquireFileLock } from '../lib/file-lock.ts';
import { withKeyedLock } from '../lib/keyed-lock.ts';
import { redactUrl, redactUrlsIn } from '../lib/log.ts';
import { toolPath } from '../lib/tools.ts';

/**
 * The worker's git cache on its persistent volume: one bare mirror per repository URL under
 * `<root>/repos`, the exact commit fetched into it under a lock, and one `git worktree` per job
 * under `<root>/workspaces/<job>` that is removed when the job ends. Mirrors not used for the
 * longest are evicted when the cache grows over its size limit.
 */
export interface Workspace {
  dir: string;
  /** The commit was already in the mirror: nothing was fetched. */
  hit: boolean;
  remove(): Promise<void>;
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

  /** The commit as a fresh worktree for one job (`jobDir` names its workspace). */
  async checkout(url: string, commit: string, jobDir: string): Promise<Workspace> {
    const mirror = this.mirrorOf(url);
    const dir = join(this.root, 'workspaces', jobDir);
    const hit = await this.locked(mirror, async () => {
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
      await rm(dir, { recursive: true, force: true });
      await this.git(['worktree', 'add', '--detach', '--quiet', dir, commit], mirror);
      const now = new Date();
      await writeFile(join(mirror, LAST_USED), now.toISOString());
      await utimes(join(mirror, LAST_USED), now, now);
      return present;
    });
    return {
      dir,
      hit,
      remove: () =>
        this.locked(mirror, async () => {
          await this.git(['worktree', 'remove', '--force', dir], mirror).catch(() => rm(dir, { recursive: true, force: true }));
          await this.git(['worktree', 'prune'], mirror).catch(() => undefined);
        }),
    };
  }

  /** Removes least-recently-used mirrors (none with a live worktree) until the cache fits. */
  async evict(): Promise<string[]> {
    const reposDir = join(this.root, 'repos');
    const mirrors = await Promise.all(
      (await readdir(reposDir)).filter((n) => n.endsWith('.git')).map(async (n) => {
        const path = join(reposDir, n);
        const used = await stat(join(path, LAST_USED)).then((s) => s.mtimeMs, () => 0);
        return { path, used, bytes: await diskUsage(path) };
      }),
    );
    let total = mirrors.reduce((n, m) => n + m.bytes, 0);
    const evicted: string[] = [];
    for (const m of mirrors.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      await this.locked(m.path, async () => {
        const worktrees = await readdir(join(m.path, 'worktrees')).catch(() => []);
        if (worktrees.length > 0) return; // a job is using it
        await rm(m.path, { recursive: true, force: true });
        total -= m.bytes;
        evicted.push(m.path);
      });
    }
    return evicted;
  }
}

async function diskUsage(path: string): Promise<number> {
  const r = await execa('du', ['-sb', path], { reject: false });
  return Number.parseInt(r.stdout.split('\t')[0] ?? '0', 10) || 0;
}
