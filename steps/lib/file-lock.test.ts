import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireFileLock } from './file-lock.ts';

const module = fileURLToPath(new URL('./file-lock.ts', import.meta.url));
const opts = { what: 'the test database', code: 'RECORD_FAILED' as const };

const children: { kill(signal: NodeJS.Signals): boolean }[] = [];

/** Another process that takes the lock and holds it until killed (afterAll kills it at the latest). */
async function holder(path: string) {
  const script = `const { acquireFileLock } = await import(${JSON.stringify(module)});
    await acquireFileLock(${JSON.stringify(path)}, { timeoutMs: 10000, what: 'x', code: 'RECORD_FAILED' });
    process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`;
  const child = execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    void child.then((r) => reject(new Error(`holder exited: ${r.stderr}`)));
  });
  return { child }; // wrapped: an execa process is a thenable, and returning it would await its exit
}

describe('file lock between processes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-lock-'));
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for a live holder, names its PID when the wait times out, and takes the lock over once it died', async () => {
    const path = join(dir, 'a.lock');
    const { child } = await holder(path);
    const started = Date.now();
    const error = await acquireFileLock(path, { ...opts, timeoutMs: 400 }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(error?.message).toMatch(new RegExp(`^the test database is in use by process ${child.pid} \\(since \\d{4}-.+\\) and was not released within 0\\.4 s: wait for that process to finish or stop it`));
    child.kill('SIGKILL');
    await child;
    const lock = await acquireFileLock(path, { ...opts, timeoutMs: 5000 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await lock.release();
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
  }, 60_000);

  it('takes over a lock of its own PID under another token (a restarted container is PID 1 again)', async () => {
    const path = join(dir, 'b.lock');
    await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), token: 'old-run', since: '2026-01-01T00:00:00Z' }));
    const lock = await acquireFileLock(path, { ...opts, timeoutMs: 1000 });
    await lock.release();
  });

  it('in one process, holders take turns', async () => {
    const path = join(dir, 'c.lock');
    const first = await acquireFileLock(path, { ...opts, timeoutMs: 1000 });
    const second = acquireFileLock(path, { ...opts, timeoutMs: 5000 });
    const timedOut = await acquireFileLock(path, { ...opts, timeoutMs: 200 }).catch((e: Error) => e.message);
    expect(timedOut).toMatch(`in use by process ${process.pid}`);
    await first.release();
    await (await second).release();
  });

  it('an unreadable lock file is waited for, and the error says what to do', async () => {
    const path = join(dir, 'd.lock');
    await writeFile(path, 'garbage');
    const e = await acquireFileLock(path, { ...opts, timeoutMs: 200 }).catch((err: Error) => err.message);
    expect(e).toBe(`the test database is locked by ${path}, which names no process, and was not released within 0.2 s: if no forge process uses it, delete that file`);
  });
});
