import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { setStatus, startArgoStack, type ArgoServer } from '../../test/helpers/argo-server.ts';
import { bundleAction } from '../build.ts';
import { ArgoServerClient, connect } from '../lib/argo-server/index.ts';
import { workflowName } from '../lib/submission/index.ts';

/**
 * The action run as the Actions runner runs it: `node <bundle>` with the inputs as INPUT_<NAME>
 * (action.yml's defaults filled in, as the runner does), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
 * files and the GITHUB_* context, against a real `argo server` (--auth-mode=client) on a real
 * kube-apiserver. The bundle is built from the sources here; test/bundle/action.test.ts checks
 * that the committed action/index.mjs is that same build.
 */
const NS = 'argo';
const ADMIN = 'forge-test-admin';
const BAD_TOKEN = 'not-a-token-4c2e8d1a7f';
const REPO = 'https://github.com/acme/shop.git';
const sha = (n: number) => n.toString(16).padStart(40, 'b');
const actionYml = parse(await readFile(fileURLToPath(new URL('../../action/action.yml', import.meta.url)), 'utf8')) as {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; main: string };
};

let stack: Awaited<ReturnType<typeof startArgoStack>> | undefined;
let argo: ArgoServer;
let dir: string;
let entry: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forge-action-'));
  ({ file: entry } = await bundleAction(join(dir, 'index.mjs')));
  stack = await startArgoStack(NS, 'forge-pipeline', 'GitHub Action tests');
  ({ argo } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

/** GITHUB_OUTPUT's format: `name<<DELIMITER`, the value's lines, `DELIMITER`. */
function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const end = lines.indexOf(m[2]!, i + 1);
    expect(end, `no closing delimiter for ${m[1]}`).toBeGreaterThan(i);
    out[m[1]!] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return out;
}

let runs = 0;
/** Starts the action; `child` is the node process, `outputs` and `summary` read its files. */
function startAction(inputs: Record<string, string>, context: Record<string, string> = {}) {
  const n = ++runs;
  const files = { output: join(dir, `output-${n}`), summary: join(dir, `summary-${n}`) };
  writeFileSync(files.output, '');
  writeFileSync(files.summary, '');
  const env: Record<string, string> = {
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REF_TYPE: 'branch',
    GITHUB_REF_NAME: 'main',
    ...context,
  };
  // The runner passes every input, its default when the workflow gives none; names upper-cased.
  for (const [name, spec] of Object.entries(actionYml.inputs)) env[`INPUT_${name.toUpperCase()}`] = inputs[name] ?? spec.default ?? '';
  const child = execa('node', [entry], { reject: false, all: true, env, extendEnv: false });
  return {
    child,
    outputs: async () => parseOutputFile(await readFile(files.output, 'utf8')),
    summary: () => readFile(files.summary, 'utf8'),
  };
}

/** Runs the action to its end: the process's result with the output and summary files read. */
async function runAction(inputs: Record<string, string>, context: Record<string, string> = {}) {
  const started = startAction(inputs, context);
  const r = await started.child;
  return { ...r, all: r.all ?? '', outputs: await started.outputs(), summary: await started.summary() };
}

const base = (commit: string) => ({ server: argo.url, token: ADMIN, parameters: `commit=${commit}\n` });

describe('the GitHub Action, run as the Actions runner runs it', () => {
  it('action.yml is a node20 JavaScript action whose main is the bundle', () => {
    expect(actionYml.runs).toEqual({ using: 'node20', main: 'index.mjs' });
    expect(Object.keys(actionYml.inputs)).toEqual(expect.arrayContaining(['server', 'namespace', 'token', 'template', 'parameters', 'wait', 'timeout']));
    expect(actionYml.inputs.template!.default).toBe('forge-pipeline');
    expect(actionYml.inputs.wait!.default).toBe('false');
  });

  it('submits, writes the outputs in GITHUB_OUTPUT format and the link to the job summary, masks the token; a second run attaches', async () => {
    const commit = sha(1);
    const name = workflowName(REPO, commit, 1);
    const url = `${argo.url}/workflows/${NS}/${name}`;
    const first = await runAction({ ...base(commit), parameters: `commit=${commit}\nextra-flag=a,b=c\n` });
    expect(first.exitCode, first.all).toBe(0);
    expect(first.stdout.split('\n')[0]).toBe(`::add-mask::${ADMIN}`);
    expect(first.stdout.split('\n').filter((l) => l.includes(ADMIN))).toHaveLength(1);
    expect(first.stdout).toContain(`created workflow ${NS}/${name} from template forge-pipeline`);
    expect(first.outputs).toEqual({ 'workflow-name': name, url, phase: 'Pending' });
    const summary = first.summary;
    expect(summary).toContain(`<a href="${url}">${NS}/${name}</a>`);
    expect(summary).toContain('submitted');

    const again = await runAction({ ...base(commit), parameters: `commit=${commit}\nextra-flag=a,b=c\n` });
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`attached to workflow ${NS}/${name} \\(created .*; phase Pending\\)`));
    expect(again.outputs).toEqual({ 'workflow-name': name, url, phase: 'Pending' });
    expect(again.summary).toContain('attached');

    // The same name with other parameters is refused, never joined.
    const other = await runAction({ ...base(commit), parameters: `commit=${commit}\nextra-flag=other\n` });
    expect(other.exitCode).toBe(1);
    expect(other.stdout).toMatch(/::error::ARGO_SERVER_CONFLICT: .*parameters extra-flag differ.*set the attempt input to start another run/);
  });

  it.each([
    ['Succeeded', 0],
    ['Failed', 1],
  ] as const)('wait: true reports the phase %s and fails the step unless it succeeded', async (phase, code) => {
    const commit = sha(10 + code);
    const name = workflowName(REPO, commit, 1);
    const run = startAction({ ...base(commit), wait: 'true', timeout: '60s' }, { GITHUB_REF: 'refs/tags/v1.0.0', GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v1.0.0' });
    await expect.poll(async () => (await run.outputs())['workflow-name'], { timeout: 30_000 }).toBe(name);
    await new Promise((r) => setTimeout(r, 1_000));
    await setStatus(stack!.kube.kubeConfig('admin'), NS, name, { phase, message: code ? 'child failed' : undefined, nodes: {} });
    const r = await run.child;
    expect(r.exitCode, r.all).toBe(code);
    expect((await run.outputs()).phase).toBe(phase);
    expect(await run.summary()).toContain(`Finished: **${phase}**`);
    if (code) expect(r.stdout).toContain(`::error::workflow ${NS}/${name} Failed: child failed — ${argo.url}/workflows/${NS}/${name}`);
    else expect(r.stdout).not.toContain('::error::');
  }, 60_000);

  it('a timeout fails the step without touching the run, and the re-run attaches to it', async () => {
    const commit = sha(20);
    const name = workflowName(REPO, commit, 1);
    const r = await runAction({ ...base(commit), wait: 'true', timeout: '2s' });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stdout).toMatch(/::error::WAIT_TIMEOUT: workflow argo\/\S+ is still Pending after the timeout of 2s; it goes on running\. Re-running this job attaches/);
    expect(r.outputs.phase).toBe('Pending');
    const again = startAction({ ...base(commit), wait: 'true', timeout: '60s' });
    await expect.poll(async () => (await again.outputs()).url, { timeout: 30_000 }).toBeDefined();
    await setStatus(stack!.kube.kubeConfig('admin'), NS, name, { phase: 'Succeeded', nodes: {} });
    const done = await again.child;
    expect(done.exitCode, done.all).toBe(0);
    expect(done.stdout).toContain(`attached to workflow ${NS}/${name}`);
  }, 60_000);

  it('on a pull_request event submits the PR head commit and number from the event payload', async () => {
    const head = sha(40);
    const event = join(dir, 'pull_request.json');
    writeFileSync(event, JSON.stringify({ pull_request: { number: 12, head: { sha: head } } }));
    const r = await runAction({ server: argo.url, token: ADMIN, parameters: 'skip-tests=a,b' }, {
      GITHUB_EVENT_NAME: 'pull_request', GITHUB_SHA: sha(41), GITHUB_REF: 'refs/pull/12/merge', GITHUB_REF_NAME: '12/merge', GITHUB_EVENT_PATH: event,
    });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.outputs['workflow-name']).toBe(workflowName(REPO, head, 1));
    const wf = await new ArgoServerClient(connect({ server: argo.url, token: ADMIN })).get(NS, r.outputs['workflow-name']!);
    const params = Object.fromEntries((wf.spec.arguments?.parameters ?? []).map((p) => [p.name, p.value]));
    expect(params).toEqual({ 'repo-url': REPO, commit: head, branch: '', tag: '', 'pull-request': '12', 'skip-tests': 'a,b' });
  });

  it('a bad token fails with a clear message naming the token input, the token masked', async () => {
    const r = await runAction({ ...base(sha(30)), token: BAD_TOKEN });
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe(`::add-mask::${BAD_TOKEN}`);
    expect(r.stdout).toMatch(/::error::ARGO_SERVER_UNAUTHORIZED: create workflow .*HTTP 401.*check that the action's token input holds a current token/);
    // The runner masks what ::add-mask:: names; nothing else may carry it.
    expect(r.all.split(BAD_TOKEN)).toHaveLength(2);
  });

  it('refuses bad inputs before any request, naming the input', async () => {
    const r = await runAction({ server: argo.url, token: ADMIN, parameters: 'commit=abc\n' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/::error::INVALID_ARGS: invalid arguments%0A {2}parameters: commit: must be the full commit SHA/);
    expect(r.outputs).toEqual({});
    const t = await runAction({ ...base(sha(31)), wait: 'yes' });
    expect(t.stdout).toContain('::error::INVALID_ARGS: invalid action inputs%0A  wait: must be true or false');
  });
});
