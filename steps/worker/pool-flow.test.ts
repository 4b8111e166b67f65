import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNats, type NatsServer } from '../local/nats.ts';
import { phaseTask, poolRepo, runDispatch, startWorker, waitFor, type WorkerProcess } from '../../test/helpers/pool.ts';
import type { TempRepo } from '../../test/helpers/git-repo.ts';

// Dispatchers and workers as the real processes an Argo task and a pool pod run, on a real
// nats-server: the job flow, fail-fast, timeouts, secrets and large results.
let nats: NatsServer;
let workers: WorkerProcess[] = [];
let repo: TempRepo;
let tmp: string;

beforeAll(async () => {
  nats = await startNats();
  tmp = await mkdtemp(join(tmpdir(), 'forge-pool-flow-'));
  repo = await poolRepo({
    api: {
      lint: {
        fast: { args: ['print=3', `runs=${join(tmpdir(), 'unused')}`] },
        slow: { args: ['print=1', 'sleep=60000'], priority: 0 },
      },
      test: { unit: { args: ['print=2'] } },
    },
    web: {
      lint: { broken: { args: ['print=2', 'exit=3'] } },
      test: {
        first: { args: ['print=1'], priority: 10 },
        second: { args: ['print=1', 'exit=7'], priority: 5 },
        third: { args: ['print=1'], priority: 1 },
      },
    },
    secret: { lint: { show: { args: ['secret=TOKEN'], secrets: '[{provider: "env", path: "FORGE_SECRET_TOKEN"}]' } } },
    big: { lint: { out: { args: ['big=5242880'] } } },
    hang: { lint: { wait: { args: ['print=1', 'sleep=60000'], timeout: '2s' } } },
  });
  workers = await Promise.all(['flow-a', 'flow-b'].map((name) => startWorker({ natsUrl: nats.url, pool: 'ci', name, slots: 3, env: { FORGE_SECRET_TOKEN: 's3cr3t-value-42' } })));
  await Promise.all(workers.map((w) => w.ready));
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.cleanup()));
  await nats?.stop();
  await repo?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const dispatchArgs = (run: string, phase: string, project: string, extra: string[] = []) => ['phase', '--run-id', run, '--repo-url', `file://${repo.dir}`, '--commit', repo.commit, '--task', phaseTask(phase, project), '--nats-url', nats.url, ...extra];

describe('forge dispatch → forge worker', () => {
  test("a task's steps run on a worker; its log, status and progress reach the dispatcher", async () => {
    const { code, output } = await runDispatch(dispatchArgs('run-ok', 'test', 'api')).done;
    expect(code).toBe(0);
    expect(output).toMatch(/job run-ok\.test-api queued on pool ci/);
    expect(output).toMatch(/unit\s+\| unit line 1\nunit\s+\| unit line 2/);
    expect(output).toMatch(/succeeded: api \(test\): 1 step\(s\) succeeded \(worker flow-[ab], attempt 1/);
  });

  test('the first failing step stops the task: exit code, termination message, later stages skipped', async () => {
    const termination = join(tmp, 'termination-web');
    const { code, output } = await runDispatch(dispatchArgs('run-steps', 'test', 'web'), { FORGE_TERMINATION_LOG: termination }).done;
    expect(code).toBe(7);
    expect(output).toContain('first        | first line 1');
    expect(output).toContain('step second: failed (exit 7)');
    expect(output).toContain('step third: skipped');
    expect(output).not.toContain('third line 1');
    expect(await readFile(termination, 'utf8')).toBe('failed: step second of web (test) exited with code 7');
  });

  test('fail-fast across the run: a failed task cancels its running siblings, whose dispatchers say why', async () => {
    const slow = runDispatch(dispatchArgs('run-ff', 'lint', 'api'));
    await waitFor(() => slow.output().includes('slow line 1'), 20_000, 'the slow step to start');
    const broken = await runDispatch(dispatchArgs('run-ff', 'lint', 'web')).done;
    expect(broken.code).toBe(3);
    const sibling = await slow.done;
    expect(sibling.code).toBe(130);
    expect(sibling.output).toContain('error: cancelled: lint-web failed');
    // A task of the run dispatched after the failure never starts.
    const late = await runDispatch(dispatchArgs('run-ff', 'test', 'api')).done;
    expect(late.code).toBe(130);
    expect(late.output).toContain('cancelled: lint-web failed');
    expect(late.output).not.toContain('unit line 1');
  }, 60_000);

  test('a step over its timeout is stopped (its process group killed) and the task fails', async () => {
    const started = Date.now();
    const { code, output } = await runDispatch(dispatchArgs('run-step-timeout', 'lint', 'hang')).done;
    expect(code).toBe(1);
    expect(output).toContain('failed: step wait of hang (lint) timed out after 2 s');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('a job over its timeout is cancelled on the worker and the dispatcher exits 124', async () => {
    const { code, output } = await runDispatch(dispatchArgs('run-job-timeout', 'lint', 'api', ['--timeout', '3s'])).done;
    expect(code).toBe(124);
    expect(output).toMatch(/timed-out: timed out after 3\.0 s/);
  }, 40_000);

  test('SIGTERM (Argo stop) cancels the job: the worker stops its steps', async () => {
    const d = runDispatch(dispatchArgs('run-stop', 'lint', 'api'));
    await waitFor(() => d.output().includes('slow line 1'), 20_000, 'the slow step to start');
    d.child.kill('SIGTERM');
    const stopped = Date.now();
    const { code, output } = await d.done;
    expect(Date.now() - stopped).toBeLessThan(5_000);
    expect(code).toBe(130);
    expect(output).toContain('cancelled: stopped by Argo');
    expect(output).toMatch(/step slow: cancelled/);
  }, 40_000);

  test("secrets reach the step's environment and never a log line", async () => {
    const { code, output } = await runDispatch(dispatchArgs('run-secret', 'lint', 'secret')).done;
    expect(code).toBe(0);
    expect(output).toContain('secret is ***');
    expect(output).not.toContain('s3cr3t-value-42');
    expect(workers.map((w) => w.output()).join('')).not.toContain('s3cr3t-value-42');
  });

  test('a 5 MB result travels through the object store to the outputs directory', async () => {
    const outputs = join(tmp, 'outputs-big');
    const { code, output } = await runDispatch(dispatchArgs('run-big', 'lint', 'big', ['--outputs-dir', outputs])).done;
    expect(code, output).toBe(0);
    const big = await readFile(join(outputs, 'big.txt'), 'utf8');
    expect(big.length).toBe(5 * 1024 * 1024);
    expect(big).toMatch(/^x+$/);
  });

  test('a dispatcher of a finished task attaches to its result and runs nothing again', async () => {
    const first = await runDispatch(dispatchArgs('run-again', 'test', 'api')).done;
    const second = await runDispatch(dispatchArgs('run-again', 'test', 'api')).done;
    expect(second.code).toBe(0);
    expect(second.output).toMatch(/job run-again\.test-api already exists \(succeeded on flow-[ab]\): attaching to it/);
    expect(second.output).toMatch(/succeeded: api \(test\)/);
    expect(first.code).toBe(0);
  });
});
