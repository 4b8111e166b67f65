import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import { GitCache } from './git-cache.ts';
import { tempRepos } from '../../test/helpers/git-repo.ts';
import { failure } from '../../test/helpers/forge-error.ts';
import { freePort } from '../../test/helpers/ports.ts';

// The worker's git cache on real repositories: mirrors, worktrees per job, prune and eviction.
const repos = tempRepos();
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'forge-git-cache-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await repos.cleanup();
});
afterAll(() => repos.cleanup());

const head = async (dir: string) => (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
const worktreeList = async (mirror: string) => (await execa('git', ['worktree', 'list', '--porcelain'], { cwd: mirror })).stdout;
const duBytes = async (path: string) => Number((await execa('du', ['-sb', path])).stdout.split('\t')[0]);

describe('GitCache.checkout', () => {
  test('fetches on a miss, then serves the same commit from the mirror as an independent worktree', async () => {
    const repo = await repos.repo({ 'README.md': 'one\n' });
    const cache = new GitCache(root);
    await cache.prune();
    const first = await cache.checkout(repo.dir, repo.commit, 'job-1');
    expect(first.hit).toBe(false);
    expect(first.dir.startsWith(join(root, 'workspaces'))).toBe(true);
    expect(first.reused).toBe(false);
    expect(await head(first.dir)).toBe(repo.commit);
    expect(await readFile(join(first.dir, 'README.md'), 'utf8')).toBe('one\n');

    // The origin is gone: a hit must not need it.
    const away = `${repo.dir}-away`;
    await rename(repo.dir, away);
    try {
      const second = await cache.checkout(repo.dir, repo.commit, 'job-2');
      expect(second.hit).toBe(true);
      expect(second.dir).not.toBe(first.dir);
      expect(await head(second.dir)).toBe(repo.commit);
      await writeFile(join(second.dir, 'README.md'), 'changed by job 2\n');
      await writeFile(join(second.dir, 'new.txt'), 'x');
      expect(await readFile(join(first.dir, 'README.md'), 'utf8')).toBe('one\n');
      expect(existsSync(join(first.dir, 'new.txt'))).toBe(false);
    } finally {
      await rename(away, repo.dir);
    }
  });

  test('a commit pushed later is fetched into the existing mirror', async () => {
    const repo = await repos.repo({ 'a.txt': 'v1\n' });
    const cache = new GitCache(root);
    await cache.prune();
    const old = repo.commit;
    expect((await cache.checkout(repo.dir, old, 'job-old')).hit).toBe(false);
    const next = await repo.commitFiles({ 'a.txt': 'v2\n' });
    const ws = await cache.checkout(repo.dir, next, 'job-new');
    expect(ws.hit).toBe(false);
    expect(await head(ws.dir)).toBe(next);
    expect(await readFile(join(ws.dir, 'a.txt'), 'utf8')).toBe('v2\n');
    // Still one mirror for the repository: the new commit went into it.
    expect((await readdir(join(root, 'repos'))).filter((n) => n.endsWith('.git'))).toEqual([cache.mirrorOf(repo.dir).split('/').pop()]);
    expect((await cache.checkout(repo.dir, old, 'job-old-again')).hit).toBe(true);
  });

  test('two slots checking out the same new commit at once fetch it once', async () => {
    const repo = await repos.repo({ 'a.txt': 'x\n' });
    const cache = new GitCache(root);
    await cache.prune();
    const [a, b] = await Promise.all([cache.checkout(repo.dir, repo.commit, 'slot-a'), cache.checkout(repo.dir, repo.commit, 'slot-b')]);
    expect([a.hit, b.hit].sort()).toEqual([false, true]);
    expect(await head(a.dir)).toBe(repo.commit);
    expect(await head(b.dir)).toBe(repo.commit);
  });

  test('release() hands the worktree to the next job, reset to its commit: nothing the last job left survives', async () => {
    const repo = await repos.repo({ 'a.txt': 'one\n', '.gitignore': 'build/\n' });
    const first = repo.commit;
    const second = await repo.commitFiles({ 'a.txt': 'two\n', 'b.txt': 'b\n' });
    const cache = new GitCache(root);
    await cache.prune();
    const ws = await cache.checkout(repo.dir, first, 'job-1');
    await writeFile(join(ws.dir, 'a.txt'), 'changed by job 1\n');
    await writeFile(join(ws.dir, 'stray.txt'), 'x');
    await mkdir(join(ws.dir, 'build'), { recursive: true });
    await writeFile(join(ws.dir, 'build', 'out.bin'), 'ignored output');
    await ws.release();
    const next = await cache.checkout(repo.dir, second, 'job-2');
    expect(next.dir).toBe(ws.dir);
    expect(next.reused).toBe(true);
    expect(await head(next.dir)).toBe(second);
    expect(await readFile(join(next.dir, 'a.txt'), 'utf8')).toBe('two\n');
    expect(await readFile(join(next.dir, 'b.txt'), 'utf8')).toBe('b\n');
    expect(existsSync(join(next.dir, 'stray.txt'))).toBe(false);
    expect(existsSync(join(next.dir, 'build'))).toBe(false);
    // A job still running keeps its worktree: the one after it gets another.
    const third = await cache.checkout(repo.dir, first, 'job-3');
    expect(third.dir).not.toBe(next.dir);
    const list = await worktreeList(cache.mirrorOf(repo.dir));
    expect(list).toContain(next.dir);
    expect(list).toContain(third.dir);
  });

  test('an unknown commit fails with GIT_FAILED', async () => {
    const repo = await repos.repo({ 'a.txt': 'x\n' });
    const cache = new GitCache(root);
    await cache.prune();
    const e = await failure(cache.checkout(repo.dir, 'f'.repeat(40), 'job-bad'));
    expect(e.code).toBe('GIT_FAILED');
    expect(e.message).toMatch(/^git fetch failed for /);
  });
});

describe('credentials in the repository URL', () => {
  test('an http URL with userinfo on a closed loopback port: the error names the host, never the password', async () => {
    const port = await freePort();
    const url = `http://forge-user:s3cret-Pa55@127.0.0.1:${port}/org/repo.git`;
    const cache = new GitCache(root);
    await cache.prune();
    const e = await failure(cache.checkout(url, 'a'.repeat(40), 'job-creds'));
    expect(e.code).toBe('GIT_FAILED');
    expect(e.message).toContain(`http://127.0.0.1:${port}/org/repo.git`);
    expect(e.message).not.toContain('s3cret-Pa55');
    expect(e.message).not.toContain('forge-user');
  });

  test('a file URL with userinfo to a missing path: no password in the error', async () => {
    const url = 'file://forge-user:s3cret-Pa55@localhost/nonexistent/forge-test/repo.git';
    const cache = new GitCache(root);
    await cache.prune();
    const e = await failure(cache.checkout(url, 'b'.repeat(40), 'job-creds-file'));
    expect(e.code).toBe('GIT_FAILED');
    expect(e.message).toContain('repo.git');
    expect(e.message).not.toContain('s3cret-Pa55');
  });
});

describe('GitCache.prune', () => {
  test('clears the workspaces a dead worker left and prunes them from the mirror', async () => {
    const repo = await repos.repo({ 'a.txt': 'x\n' });
    const dead = new GitCache(root);
    await dead.prune();
    const ws = await dead.checkout(repo.dir, repo.commit, 'orphan');
    const mirror = dead.mirrorOf(repo.dir);
    expect((await readdir(join(mirror, 'worktrees'))).length).toBe(1);

    const next = new GitCache(root); // the worker restarted on the same volume
    await next.prune();
    expect(existsSync(ws.dir)).toBe(false);
    expect(await readdir(join(root, 'workspaces'))).toEqual([]);
    expect(await worktreeList(mirror)).not.toContain(ws.dir);
    expect(await readdir(join(mirror, 'worktrees')).catch(() => [])).toEqual([]);
    // The mirror itself survives: the commit is still a hit.
    expect((await next.checkout(repo.dir, repo.commit, 'fresh')).hit).toBe(true);
  });
});

describe('GitCache.evict', () => {
  async function twoMirrors(cache: GitCache) {
    const older = await repos.repo({ 'old.txt': 'o'.repeat(10_000) });
    const newer = await repos.repo({ 'new.txt': 'n'.repeat(10_000) });
    for (const [repo, job] of [[older, 'o'], [newer, 'n']] as const) await (await cache.checkout(repo.dir, repo.commit, job)).release();
    const stamp = (repo: typeof older, when: Date) => utimes(join(cache.mirrorOf(repo.dir), 'forge-last-used'), when, when);
    await stamp(older, new Date('2020-01-01T00:00:00Z'));
    await stamp(newer, new Date('2024-01-01T00:00:00Z'));
    return { older: cache.mirrorOf(older.dir), newer: cache.mirrorOf(newer.dir), olderRepo: older, newerRepo: newer };
  }

  test('removes the least recently used mirror first, and only until the cache fits', async () => {
    const probe = new GitCache(root);
    await probe.prune();
    const { older, newer } = await twoMirrors(probe);
    // The limit holds the newer mirror and every worktree (they are on the volume too), not the older mirror.
    const cache = new GitCache(root, (await duBytes(newer)) + (await duBytes(join(root, 'workspaces'))));
    expect(await cache.evict()).toEqual([older]);
    expect(existsSync(older)).toBe(false);
    expect(existsSync(newer)).toBe(true);
  });

  test('under the limit nothing is evicted', async () => {
    const probe = new GitCache(root);
    await probe.prune();
    const { older, newer } = await twoMirrors(probe);
    const cache = new GitCache(root, (await duBytes(older)) + (await duBytes(newer)) + 1_000_000);
    expect(await cache.evict()).toEqual([]);
    expect(existsSync(older) && existsSync(newer)).toBe(true);
  });

  test('evictIfGrown measures only after the cache grew, and at most once per interval', async () => {
    const repo = await repos.repo({ 'a.txt': 'x'.repeat(10_000) });
    const cache = new GitCache(root, 0);
    await cache.prune();
    expect(await cache.evictIfGrown(0)).toEqual([]); // nothing fetched yet
    await (await cache.checkout(repo.dir, repo.commit, 'grow')).release();
    expect(await cache.evictIfGrown(60_000)).toEqual([cache.mirrorOf(repo.dir)]);
    await (await cache.checkout(repo.dir, repo.commit, 'again')).release(); // fetched again: grew
    expect(await cache.evictIfGrown(60_000)).toEqual([]); // but within the interval
    expect(await cache.evictIfGrown(0)).toEqual([cache.mirrorOf(repo.dir)]);
  });

  test('never evicts a mirror with a live worktree, even the least recently used', async () => {
    const cache = new GitCache(root, 0);
    await cache.prune();
    const { older, newer, olderRepo } = await twoMirrors(cache);
    const live = await cache.checkout(olderRepo.dir, olderRepo.commit, 'live-job');
    await utimes(join(older, 'forge-last-used'), new Date('2019-01-01T00:00:00Z'), new Date('2019-01-01T00:00:00Z'));
    expect(await cache.evict()).toEqual([newer]);
    expect(existsSync(older)).toBe(true);
    expect(await head(live.dir)).toBe(olderRepo.commit);
    await live.release();
    expect(await cache.evict()).toEqual([older]);
  });
});
