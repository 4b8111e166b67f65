/**
 * forge-pipeline on the real cluster: NATS and the discovery and ci pools run as the charts
 * generate them (locally built images), and Argo's own controller runs the pipeline, whose
 * pool-backed tasks are dispatcher pods. Faults: a failing task in group 2, `argo retry` of a
 * failed run, `argo stop` during a long task, a worker pod deleted mid-job.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argo, e2eEnv, getWorkflow, gitDaemon, kubectl, REPO_ROOT, run, submittedName, type ArgoWorkflow, type E2eEnv } from './e2e-env.ts';
import { deployPools, removePools, workerLogs } from './pools.ts';
import { poolRepo } from '../helpers/pool.ts';

let env: E2eEnv;
let tmp: string;
let daemon: Awaited<ReturnType<typeof gitDaemon>>;
const repos: Record<string, { url: string; commit: string }> = {};

async function git(args: string[]): Promise<string> {
  const r = await run('git', args, { env: { GIT_AUTHOR_NAME: 'forge e2e', GIT_AUTHOR_EMAIL: 'e2e@forge.invalid', GIT_COMMITTER_NAME: 'forge e2e', GIT_COMMITTER_EMAIL: 'e2e@forge.invalid' } });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Serves a work tree's HEAD as `<name>.git` from the git daemon's directory. */
async function serve(name: string, work: string): Promise<void> {
  await git(['clone', '-q', '--bare', work, path.join(tmp, 'served', `${name}.git`)]);
  repos[name] = { url: '', commit: await git(['-C', work, 'rev-parse', 'HEAD']) };
}

beforeAll(async () => {
  env = e2eEnv();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-pipeline-'));
  fs.mkdirSync(path.join(tmp, 'served'));
  const monorepo = path.join(tmp, 'monorepo');
  fs.cpSync(path.join(REPO_ROOT, 'examples/monorepo'), monorepo, { recursive: true });
  await git(['-C', monorepo, 'init', '-q', '--initial-branch=main']);
  await git(['-C', monorepo, 'add', '-A']);
  await git(['-C', monorepo, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'examples/monorepo']);
  await serve('monorepo', monorepo);
  const phases = 'lint: {group: 1, description: "Lint", timeout: "5m", required: false}\n\ttest: {group: 2, description: "Test", timeout: "10m", required: false}\n\tpublish: {group: 3, description: "Publish", timeout: "5m", required: false}';
  const failing = await poolRepo(
    {
      good: { lint: { ok: { args: ['print=1'] } }, test: { slow: { args: ['print=1', 'sleep=90000'] } }, publish: { push: { args: ['print=1'] } } },
      bad: { lint: { ok: { args: ['print=1'] } }, test: { unit: { args: ['print=2', 'sleep=3000', 'exit=3'] } }, publish: { push: { args: ['print=1'] } } },
    },
    phases,
  );
  await serve('failing', failing.dir);
  const slow = await poolRepo({ slow: { lint: { wait: { args: ['print=1', 'sleep=25000', 'print=2'] } } } });
  await serve('slow', slow.dir);
  const flaky = await poolRepo({ flaky: { lint: { check: { args: ['print=1', 'failAttempt=1'] } }, test: { unit: { args: ['print=1'] } } } });
  await serve('flaky', flaky.dir);
  await flaky.cleanup();
  await failing.cleanup();
  await slow.cleanup();
  daemon = await gitDaemon(path.join(tmp, 'served'), env.gitListen);
  for (const name of Object.keys(repos)) repos[name]!.url = daemon.url(`${name}.git`);
  await deployPools(env, tmp);
});

afterAll(async () => {
  await daemon?.stop();
  if (env) await removePools(env);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const submit = (repo: string, extra: string[] = []) =>
  argo(env, ['submit', '--from', 'workflowtemplate/forge-pipeline', '-o', 'name', '-p', `repo-url=${repos[repo]!.url}`, '-p', `commit=${repos[repo]!.commit}`, '-p', 'branch=main', ...extra]);

const nodes = (wf: ArgoWorkflow) => Object.values(wf.status.nodes ?? {});
const podNodes = (wf: ArgoWorkflow, template: string) => nodes(wf).filter((n) => n.type === 'Pod' && (n.templateName ?? n.templateRef?.template) === template);

async function waitForLog(name: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logs = (await argo(env, ['logs', name, '--no-color'])).stdout;
    if (pattern.test(logs)) return logs;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the logs of ${name} within ${timeoutMs} ms:\n${logs}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

describe('forge-pipeline on hot pools', () => {
  it('runs examples/monorepo end to end; every task log is visible through argo logs', async () => {
    const r = await submit('monorepo', ['--wait']);
    const name = submittedName(r);
    const wf = await getWorkflow(env, name);
    const logs = (await argo(env, ['logs', name, '--no-color'])).stdout;
    expect(wf.status.phase, `${wf.status.message}\n${logs}`).toBe('Succeeded');
    // discover on the discovery pool, then 9 tasks in three groups on the ci pool.
    expect(podNodes(wf, 'discover')).toHaveLength(1);
    expect(podNodes(wf, 'phase').map((n) => n.phase)).toEqual(Array(9).fill('Succeeded'));
    expect(logs).toMatch(/forge\s+\| forge-worker-discovery-0: job [\w-]+\.discover/);
    expect(logs).toMatch(/forge\s+\| step syntax: succeeded \(exit 0\)/);
    expect(logs).toMatch(/forge\s+\| step unit: succeeded \(exit 0\)/);
    expect(logs).toMatch(/dispatch\s+\| succeeded: api \(build\): 2 step\(s\) succeeded \(worker forge-worker-ci-[01]/);
    expect(logs).toMatch(/Pipeline succeeded in/);
    fs.writeFileSync(path.join(os.tmpdir(), 'forge-e2e-pipeline-logs.txt'), logs); // for the closing note
  });

  it('forge-phase runs one task on its own, from the task JSON (as the UI submits it)', async () => {
    const task = JSON.stringify({ id: 'build-api', phase: 'build', project: 'api', path: 'services/api', timeout: '15m' });
    const r = await argo(env, ['submit', '--from', 'workflowtemplate/forge-phase', '--wait', '-o', 'name', '-p', `repo-url=${repos.monorepo!.url}`, '-p', `commit=${repos.monorepo!.commit}`, '-p', `task=${task}`]);
    const name = submittedName(r);
    const wf = await getWorkflow(env, name);
    const logs = (await argo(env, ['logs', name, '--no-color'])).stdout;
    expect(wf.status.phase, logs).toBe('Succeeded');
    expect(logs).toMatch(/forge\s+\| api: phase build, 2 step\(s\): bundle \(stage 0\), manifest \(stage 1\)/);
    expect(logs).toMatch(/dispatch\s+\| succeeded: api \(build\): 2 step\(s\) succeeded/);
  });

  it('fails fast: a failing task in group 2 cancels its running sibling and group 3 never starts', async () => {
    const name = submittedName(await submit('failing', ['--wait']));
    const wf = await getWorkflow(env, name);
    expect(wf.status.phase).toBe('Failed');
    const tasks = podNodes(wf, 'phase');
    // Argo prefixes the container's termination message with its exit: what the UI shows on the node.
    const messages = tasks.map((n) => n.message ?? '');
    expect(messages).toContain('main: Error (exit code 3): failed: step unit of bad (test) exited with code 3');
    expect(messages).toContain('main: Error (exit code 130): cancelled: test-bad failed');
    // Only group 1 (2 tasks) and group 2 (2 tasks) ran.
    expect(tasks).toHaveLength(4);
    expect(nodes(wf).some((n) => n.type === 'Pod' && /publish/.test(n.displayName ?? ''))).toBe(false);
    expect(nodes(wf).find((n) => n.displayName === 'group-3')).toMatchObject({ phase: 'Omitted', message: 'omitted: depends condition not met' });
    expect((await argo(env, ['logs', name, '--no-color'])).stdout).toMatch(/Pipeline failed/);
  });

  it('argo retry of a failed run runs the failed task again, and the groups after it', async () => {
    const name = submittedName(await submit('flaky', ['--wait']));
    expect((await getWorkflow(env, name)).status.phase).toBe('Failed');
    const retried = await argo(env, ['retry', name, '--wait'], 300_000);
    const wf = await getWorkflow(env, name);
    const logs = (await argo(env, ['logs', name, '--no-color'])).stdout;
    expect(wf.status.phase, `${retried.stdout}\n${logs}`).toBe('Succeeded');
    expect(logs).toMatch(/dispatch\s+\| job [\w-]+\.lint-flaky ended failed before \(attempt 1\): queued again on pool ci, round 1/);
    expect(logs).toMatch(/dispatch\s+\| succeeded: flaky \(lint\): 1 step\(s\) succeeded \(worker forge-worker-ci-[01], attempt 2/);
    expect(podNodes(wf, 'phase').filter((n) => n.phase === 'Succeeded').map((n) => n.displayName)).toEqual(expect.arrayContaining([expect.stringContaining('lint-flaky'), expect.stringContaining('test-flaky')]));
  });

  it('argo stop during a long task stops the job on its worker', async () => {
    const name = submittedName(await submit('slow'));
    await waitForLog(name, /wait\s+\| wait line 1/, 180_000);
    const stopped = await argo(env, ['stop', name]);
    expect(stopped.code, stopped.stderr).toBe(0);
    await argo(env, ['wait', name], 120_000);
    const wf = await getWorkflow(env, name);
    expect(wf.status.phase).not.toBe('Succeeded');
    const uid = (JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'workflow', name, '-o', 'json'])) as { metadata: { uid: string } }).metadata.uid;
    const deadline = Date.now() + 60_000;
    let logs = '';
    while (Date.now() < deadline && !new RegExp(`"job":"${uid}\\.lint-slow","status":"cancelled"`).test(logs)) {
      await new Promise((r) => setTimeout(r, 2_000));
      logs = await workerLogs(env, 'ci');
    }
    expect(logs).toMatch(new RegExp(`"job":"${uid}\\.lint-slow","status":"cancelled"[^\\n]*stopped by Argo`));
    expect(logs).not.toMatch(/wait line 2/);
  });

  it('a worker pod deleted mid-job: the job completes on the other worker', async () => {
    const name = submittedName(await submit('slow'));
    const logs = await waitForLog(name, /forge\s+\| (forge-worker-ci-\d): job [\w-]+\.lint-slow/, 180_000);
    const victim = /forge\s+\| (forge-worker-ci-\d): job [\w-]+\.lint-slow/.exec(logs)![1]!;
    await kubectl(env, ['-n', env.namespace, 'delete', 'pod', victim, '--wait=false']);
    const r = await argo(env, ['wait', name], 300_000);
    const wf = await getWorkflow(env, name);
    const after = (await argo(env, ['logs', name, '--no-color'])).stdout;
    expect(wf.status.phase, `${r.stdout}\n${after}`).toBe('Succeeded');
    expect(after).toMatch(new RegExp(`succeeded: slow \\(lint\\): 1 step\\(s\\) succeeded \\(worker (?!${victim})forge-worker-ci-\\d, attempt 2`));
  });
});
