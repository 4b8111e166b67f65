import { randomUUID } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ForgeError, type ForgeErrorCode } from './errors.ts';

/**
 * An exclusive lock between processes: a lock file holding the holder's PID, host and a token.
 * It is created complete or not at all (written under a private name, then hard-linked into
 * place, which fails when the lock exists), so a reader never sees half a lock. A lock whose
 * process has died (same host, PID gone — or our own PID under another token: a container that
 * restarted as PID 1) is taken over; a live one is waited for, up to a timeout, after which the
 * error names the holder's PID.
 */

export interface FileLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for a live holder (ms). */
  timeoutMs: number;
  /** What is locked, for the error message (`the records database /var/lib/forge/records`). */
  what: string;
  /** Error code when the wait times out. */
  code: ForgeErrorCode;
  /** Time between attempts (default 50 ms). */
  pollMs?: number;
}

interface Holder {
  pid: number;
  host: string;
  token: string;
  since: string;
}

/** Tokens of the locks this process holds: a lock file with our PID and another token is stale. */
const held = new Set<string>();

export async function acquireFileLock(path: string, opts: LockOptions): Promise<FileLock> {
  const me: Holder = { pid: process.pid, host: hostname(), token: randomUUID(), since: new Date().toISOString() };
  const mine = `${path}.${me.pid}.${me.token}`;
  await writeFile(mine, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
  const deadline = Date.now() + opts.timeoutMs;
  try {
    for (;;) {
      try {
        await link(mine, path);
        held.add(me.token);
        return lockOf(path, me.token);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await readHolder(path);
      if (holder === 'gone') continue;
      if (holder !== 'unreadable' && isStale(holder)) {
        await takeOver(path, holder);
        continue;
      }
      if (Date.now() >= deadline) throw timedOut(path, holder, opts);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
    }
  } finally {
    await rm(mine, { force: true });
  }
}

function lockOf(path: string, token: string): FileLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      held.delete(token);
      const holder = await readHolder(path);
      if (typeof holder === 'object' && holder.token === token) await rm(path, { force: true });
    },
  };
}

async function readHolder(path: string): Promise<Holder | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (Number.isSafeInteger(h.pid) && h.pid! > 0 && typeof h.host === 'string' && typeof h.token === 'string') {
      return { pid: h.pid!, host: h.host, token: h.token, since: typeof h.since === 'string' ? h.since : '' };
    }
  } catch {
    // fall through
  }
  return 'unreadable';
}

function isStale(h: Holder): boolean {
  if (h.host !== hostname()) return false; // another machine's process: cannot tell, so it is live
  if (h.pid === process.pid) return !held.has(h.token);
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Moves the stale lock aside (rename is atomic, so of several processes taking it over one
 * wins) and deletes it — unless what was moved is not the stale lock but one a live process took
 * in between, which is put back.
 */
async function takeOver(path: string, stale: Holder): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const moved = await readHolder(aside);
    if (typeof moved === 'object' && moved.token !== stale.token) await link(aside, path).catch(() => undefined);
  } finally {
    await rm(aside, { force: true });
  }
}

function timedOut(path: string, holder: Holder | 'unreadable', opts: LockOptions): ForgeError {
  const seconds = Math.round(opts.timeoutMs / 100) / 10;
  if (holder === 'unreadable') {
    return new ForgeError(
      opts.code,
      `${opts.what} is locked by ${path}, which names no process, and was not released within ${seconds} s: ` + 'if no forge process uses it, delete that file',
    );
  }
  const where = holder.host === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on host ${holder.host}`;
  return new ForgeError(
    opts.code,
    `${opts.what} is in use by ${where} (since ${holder.since || 'an unknown time'}) and was not released within ${seconds} s: ` +
      `wait for that process to finish or stop it (a lock whose process has exited is taken over automatically; lock file ${path})`,
  );
}
