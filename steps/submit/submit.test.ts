import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setStatus, startArgoStack, type ArgoServer } from '../../test/helpers/argo-server.ts';
import type { KubeApiServer } from '../../test/helpers/kube-apiserver.ts';
import { freePort } from '../../test/helpers/ports.ts';
import { startGithubStatusServer } from '../../test/helpers/github-status-server.ts';
import { ArgoServerClient, connect } from '../lib/argo-server/index.ts';
import { workflowName } from '../lib/submission/index.ts';

/**
 * `forge submit` against a real `argo server` (the pinned argo binary, --auth-mode=client) on a
 * real kube-apiserver with Argo's CRDs. No workflow-controller runs: the test moves a workflow's
 * status itself, as the controller would, to drive --wait.
 */
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
const NS = 'argo';
const REPO = 'https://github.com/acme/shop.git';
const ADMIN = 'forge-test-admin';
const BAD_TOKEN = 'not-a-token-7f3a9c1e5b';
const sha = (n: number) => n.toString(16).padStart(40, 'a');

let stack: Awaited<ReturnType<typeof startArgoStack>> | undefined;
let kube: KubeApiServer;
let argo: ArgoServer;
let kc: KubeConfig;
let dir: string;
const outputs: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forge-submit-'));
  await writeFile(join(dir, 'admin'), `${ADMIN}\n`);
  await writeFile(join(dir, 'reader'), 'forge-test-reader\n');
  await writeFile(join(dir, 'bad'), BAD_TOKEN);
  stack = await startArgoStack(NS, 'forge-pipeline', 'forge submit tests');
  ({ kube, argo } = stack);
  kc = kube.kubeConfig('admin');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  // No output of any run carried a token.
  for (const o of outputs) {
    expect(o).not.toContain(ADMIN);
    expect(o).not.toContain(BAD_TOKEN);
    expect(o).not.toContain('forge-test-reader');
    expect(o).not.toMatch(/ghs_/);
  }
}, 30_000);

const args = (commit: string, extra: string[] = [], token = 'admin') => [
  'submit', '--server', argo.url, '--namespace', NS, '--token-file', join(dir, token), '--repo-url', REPO, '--commit', commit, ...extra,
];

function submit(a: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; all: true; env: Record<string, string> }> {
  // GITHUB_TOKEN emptied: a token in the environment running the tests never reaches GitHub.
  const child = execa(forge, a, { reject: false, all: true, env: { FORGE_LOG_LEVEL: 'warn', GITHUB_TOKEN: '', ...env } });
  void child.then((r) => outputs.push(r.all ?? ''));
  return child;
}

/** Resolves once the running command printed a line matching `pattern`. */
function printed(child: ReturnType<typeof submit>, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${timeoutMs} ms; output so far:\n${text}`)), timeoutMs);
    child.all!.on('data', (c: Buffer) => {
      text += c.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

const pod = (name: string, phase: string, message?: string) => ({
  id: `${name}-1234`, name: `wf.${name}`, displayName: name, type: 'Pod', phase, startedAt: '2026-01-01T00:00:00Z',
  ...(phase === 'Running' ? {} : { finishedAt: '2026-01-01T00:00:03Z' }), ...(message ? { message } : {}),
});

describe('forge submit against a real argo server', () => {
  it('creates the workflow from the template, printing the UI link before anything else', async () => {
    const commit = sha(1);
    const r = await submit(args(commit, ['--branch', 'feature/a,b']));
    expect(r.exitCode, r.all).toBe(0);
    const name = workflowName(REPO, commit, 1);
    expect(r.stdout.split('\n')[0]).toBe(`${argo.url}/workflows/${NS}/${name}`);
    expect(r.stdout).toContain(`created workflow ${NS}/${name} from template forge-pipeline`);
    const wf = await new ArgoServerClient(connect({ server: argo.url, token: ADMIN })).get(NS, name);
    expect(wf.spec.workflowTemplateRef?.name).toBe('forge-pipeline');
    const params = Object.fromEntries((wf.spec.arguments?.parameters ?? []).map((p) => [p.name, p.value]));
    // Through create, a comma stays a comma (the /submit endpoint would split it).
    expect(params).toMatchObject({ 'repo-url': REPO, commit, branch: 'feature/a,b', tag: '', 'pull-request': '' });
    expect(wf.metadata.annotations?.['workflows.argoproj.io/title']).toBe(`shop · branch feature/a,b · ${commit.slice(0, 12)}`);
    expect(wf.metadata.labels).toMatchObject({ 'forge.dev/repository': 'shop', 'forge.dev/commit': commit, 'forge.dev/attempt': '1' });
  });

  it('attaches to the existing run when the same submit is retried (409), and a new --attempt starts another', async () => {
    const commit = sha(2);
    const first = await submit(args(commit, ['--tag', 'v1.2.3']));
    expect(first.exitCode, first.all).toBe(0);
    const again = await submit(args(commit, ['--tag', 'v1.2.3']));
    expect(again.exitCode, again.all).toBe(0);
    const name = workflowName(REPO, commit, 1);
    expect(again.stdout.split('\n')[0]).toBe(`${argo.url}/workflows/${NS}/${name}`);
    expect(again.stdout).toMatch(new RegExp(`attached to workflow ${NS}/${name} \\(created .*; phase Pending\\)`));
    const second = await submit(args(commit, ['--tag', 'v1.2.3', '--attempt', '2']));
    expect(second.stdout).toContain(`created workflow ${NS}/${workflowName(REPO, commit, 2)}`);
    const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
      group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'workflows', labelSelector: `forge.dev/commit=${commit}`,
    })) as { items: unknown[] };
    expect(list.items).toHaveLength(2);
  });

  it.each([
    ['Succeeded', 0],
    ['Failed', 1],
    ['Error', 2],
  ] as const)('--wait follows the run and exits %s → %i', async (phase, code) => {
    const commit = sha(10 + code);
    const name = workflowName(REPO, commit, 1);
    const run = submit(args(commit, ['--wait']));
    await printed(run, /created workflow/);
    await setStatus(kc, NS, name, { phase: 'Running', startedAt: '2026-01-01T00:00:00Z', nodes: { a: pod('discover', 'Running') } });
    await printed(run, /discover\s+Running/);
    const failed = phase === 'Succeeded' ? 'Succeeded' : phase;
    await setStatus(kc, NS, name, { phase, message: phase === 'Succeeded' ? undefined : 'child failed', nodes: { a: pod('discover', failed, phase === 'Succeeded' ? undefined : 'exit code 3') } });
    const r = await run;
    expect(r.exitCode, r.all).toBe(code);
    expect(r.stdout.split('\n')[0]).toBe(`${argo.url}/workflows/${NS}/${name}`);
    expect(r.stdout).toMatch(/workflow \S+: Running/);
    expect(r.stdout).toMatch(new RegExp(`discover\\s+${failed} in 3\\.0s`));
    expect(r.stdout).toContain(`workflow ${NS}/${name} ${phase}`);
    if (code > 0) expect(r.stdout).toMatch(/--- logs of failed task discover \(exit code 3\) ---\n {2}\((no log lines|logs unavailable: .*)\)/);
    // A CI job re-run after the end attaches to the finished run and reports the same outcome.
    const again = await submit(args(commit, ['--wait']));
    expect(again.exitCode, again.all).toBe(code);
    expect(again.stdout).toContain(`attached to workflow ${NS}/${name}`);
    expect(again.stdout).toContain(`workflow ${NS}/${name} ${phase}`);
  }, 60_000);

  it('--wait reconnects when the argo server dies mid-watch, and sees the end that happened meanwhile', async () => {
    const commit = sha(20);
    const name = workflowName(REPO, commit, 1);
    const run = submit(args(commit, ['--wait']));
    await printed(run, /created workflow/);
    await setStatus(kc, NS, name, { phase: 'Running', nodes: { a: pod('discover', 'Running') } });
    await printed(run, /discover\s+Running/);
    // Killed (SIGKILL: the stream breaks); the run finishes while no server is there.
    await argo.down();
    await printed(run, /watch stream lost/);
    await setStatus(kc, NS, name, { phase: 'Succeeded', nodes: { a: pod('discover', 'Succeeded') } });
    await argo.up();
    const r = await run;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/\(watch stream lost: .*; reconnecting in \d+ ms, attempt 1\)/);
    expect(r.stdout).toContain(`workflow ${NS}/${name} Succeeded`);
  }, 90_000);

  it('refuses a bad token (401) naming the token options, and never prints the token', async () => {
    const r = await submit(args(sha(30), [], 'bad'));
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n')[0]).toMatch(/\/workflows\/argo\//);
    expect(r.stderr).toMatch(/ARGO_SERVER_UNAUTHORIZED: create workflow .*HTTP 401.*check that --token-file or ARGO_TOKEN holds a current token/);
    expect(r.all).not.toContain(BAD_TOKEN);
  });

  it('ARGO_TOKEN works like --token-file (with or without "Bearer ")', async () => {
    const a = args(sha(31)).filter((x, i, all) => x !== '--token-file' && all[i - 1] !== '--token-file');
    const r = await submit(a, { ARGO_TOKEN: `Bearer ${ADMIN}` });
    expect(r.exitCode, r.all).toBe(0);
    const denied = await submit(args(sha(32)).filter((x, i, all) => x !== '--token-file' && all[i - 1] !== '--token-file'), { ARGO_TOKEN: BAD_TOKEN });
    expect(denied.stderr).toContain('ARGO_SERVER_UNAUTHORIZED');
  });

  it('says what RBAC is missing when the account may not create workflows (403)', async () => {
    const r = await submit(args(sha(33), [], 'reader'));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/ARGO_SERVER_FORBIDDEN: .*HTTP 403: .*User "reader" cannot .*grant its service account RBAC on workflows\.argoproj\.io/);
  });

  it('names the server and what to check when nothing listens there', async () => {
    const port = await freePort();
    const a = args(sha(34));
    a[a.indexOf('--server') + 1] = `http://127.0.0.1:${port}`;
    const r = await submit(a);
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe(`http://127.0.0.1:${port}/workflows/argo/${workflowName(REPO, sha(34), 1)}`);
    expect(r.stderr).toContain(`ARGO_SERVER_UNREACHABLE: cannot reach the Argo Server at http://127.0.0.1:${port} to create workflow`);
    expect(r.stderr).toMatch(/ECONNREFUSED\): check --server \(or ARGO_SERVER\)/);
    expect(r.stdout).toContain('(create failed: ECONNREFUSED; retrying in 500 ms, attempt 2 of 5)');
    expect(r.stdout).toContain('attempt 5 of 5)');
  }, 30_000);

  it('retries the create while the server is down and creates once it is back', async () => {
    const commit = sha(36);
    await argo.down();
    const run = submit(args(commit));
    await printed(run, /create failed/);
    await argo.up();
    const r = await run;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/\(create failed: (ECONNREFUSED|HTTP 503); retrying in 500 ms, attempt 2 of 5\)/);
    expect(r.stdout).toContain(`created workflow ${NS}/${workflowName(REPO, commit, 1)}`);
  }, 60_000);

  it('404 for a namespace without the template, and invalid input refused before any request', async () => {
    const r = await submit(args(sha(35), ['--template', 'no-such-template']));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/ARGO_SERVER_(NOT_FOUND|FAILED): create workflow .*no-such-template.*not found/);
    const bad = await submit(args('abc123'));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--commit: must be the full commit SHA');
    expect(bad.stdout).toBe('');
  });

  it('the watch reopens a stream that stays silent past its idle limit, and still sees the end', async () => {
    const client = new ArgoServerClient(connect({ server: argo.url, token: ADMIN }));
    const commit = sha(41);
    expect((await submit(args(commit))).exitCode).toBe(0);
    const name = workflowName(REPO, commit, 1);
    const reasons: string[] = [];
    const phases: string[] = [];
    for await (const wf of client.watch(NS, name, { idleMs: 400, onReconnect: (_n, _d, reason) => reasons.push(reason) })) {
      phases.push(wf.status?.phase ?? 'Pending');
      if (reasons.length >= 2 && !wf.status?.phase) await setStatus(kc, NS, name, { phase: 'Succeeded', nodes: {} });
    }
    expect(reasons.slice(0, 2)).toEqual(['no data for 400 ms', 'no data for 400 ms']);
    expect(phases.at(-1)).toBe('Succeeded');
  });

  it('sets the commit status pending with the UI link once the run exists; a status GitHub refuses is only a warning', async () => {
    const GH = 'ghs_submit-status-token';
    const github = await startGithubStatusServer(GH);
    try {
      await writeFile(join(dir, 'github'), GH);
      await writeFile(join(dir, 'github-wrong'), 'ghs_wrong-submit-token');
      const commit = sha(50);
      const name = workflowName(REPO, commit, 1);
      const r = await submit(args(commit, ['--github-token-file', join(dir, 'github'), '--github-api-url', github.apiUrl]));
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout.split('\n')).toEqual([`${argo.url}/workflows/${NS}/${name}`, `created workflow ${NS}/${name} from template forge-pipeline`, `commit status ci/catalyst-forge: pending on acme/shop@${commit.slice(0, 12)}`]);
      expect(github.received).toEqual([
        { path: `/api/repos/acme/shop/statuses/${commit}`, body: { state: 'pending', target_url: `${argo.url}/workflows/${NS}/${name}`, description: 'Pipeline started - discovering projects...', context: 'ci/catalyst-forge' } },
      ]);
      // GITHUB_TOKEN does the same; a retried submit of a run still going sets pending again.
      const again = await submit(args(commit, ['--github-api-url', github.apiUrl]), { GITHUB_TOKEN: GH });
      expect(again.stdout).toContain('attached to workflow');
      expect(github.received).toHaveLength(2);
      // A run that has finished keeps its final status.
      await setStatus(kc, NS, name, { phase: 'Succeeded', nodes: {} });
      expect((await submit(args(commit, ['--github-api-url', github.apiUrl]), { GITHUB_TOKEN: GH })).exitCode).toBe(0);
      expect(github.received).toHaveLength(2);
      // Refused (401), or no GitHub-shaped repository: warnings, the run is created all the same.
      const refused = await submit(args(sha(51), ['--github-token-file', join(dir, 'github-wrong'), '--github-api-url', github.apiUrl]));
      expect(refused.exitCode, refused.all).toBe(0);
      expect(refused.stdout).toContain(`created workflow ${NS}/${workflowName(REPO, sha(51), 1)}`);
      expect(refused.stderr).toContain(`warning: commit status not set (the run goes on): GitHub POST /api/repos/acme/shop/statuses/${sha(51)}: 401 Bad credentials (the token is not valid or has expired`);
      const other = 'ssh://git@git.example/group/sub/shop.git';
      const notGithub = await submit(args(sha(52), ['--repo-url', other, '--github-api-url', github.apiUrl]), { GITHUB_TOKEN: GH });
      expect(notGithub.exitCode, notGithub.all).toBe(0);
      expect(notGithub.stderr).toContain('warning: commit status not set (the run goes on): repository URL "ssh://git.example/group/sub/shop.git": its path must be owner/repo (got 3 segments)');
      // Without a token nothing is sent.
      const none = await submit(args(sha(53), ['--github-api-url', github.apiUrl]));
      expect(none.exitCode, none.all).toBe(0);
      expect(none.all).not.toContain('commit status');
      expect(github.received).toHaveLength(2);
    } finally {
      await github.stop();
    }
  }, 60_000);

  it('the client stops a running workflow and reads logs (none without pods)', async () => {
    const client = new ArgoServerClient(connect({ server: argo.url, token: ADMIN }));
    const commit = sha(40);
    const r = await submit(args(commit));
    expect(r.exitCode, r.all).toBe(0);
    const name = workflowName(REPO, commit, 1);
    await setStatus(kc, NS, name, { phase: 'Running', nodes: {} });
    const stopped = await client.stop(NS, name, 'stopped by the test');
    expect(stopped.spec.shutdown).toBe('Stop');
    expect(await client.logs(NS, name)).toEqual([]);
  });
});
