/**
 * The synthesized forge-discovery WorkflowTemplate (npm run synth with a platform configuration
 * that points at the locally built step image) runs on the cluster's Argo controller against
 * examples/monorepo, served by `git daemon` from a local repository the pod reaches over the pod
 * network. Its output parameters equal what `npx forge discover` writes locally for the same
 * repository URL, commit and branch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argo, e2eEnv, getWorkflow, gitDaemon, REPO_ROOT, run, submittedName, synthesizeAndApply, type E2eEnv } from './e2e-env.ts';

let env: E2eEnv;
let tmp: string;
let daemon: Awaited<ReturnType<typeof gitDaemon>>;
let repoUrl: string;
let commit: string;

const SLOTS = 6;

async function git(cwd: string, args: string[]): Promise<string> {
  const r = await run('git', args, {
    env: {
      GIT_AUTHOR_NAME: 'forge e2e',
      GIT_AUTHOR_EMAIL: 'e2e@forge.invalid',
      GIT_COMMITTER_NAME: 'forge e2e',
      GIT_COMMITTER_EMAIL: 'e2e@forge.invalid',
      GIT_AUTHOR_DATE: '2000-01-01T00:00:00Z',
      GIT_COMMITTER_DATE: '2000-01-01T00:00:00Z',
    },
  });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} in ${cwd}: ${r.stderr}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  env = e2eEnv();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-discovery-'));

  // examples/monorepo as its own repository, served read-only by git daemon.
  const work = path.join(tmp, 'work');
  fs.cpSync(path.join(REPO_ROOT, 'examples/monorepo'), work, { recursive: true });
  await git(tmp, ['-C', work, 'init', '-q', '--initial-branch=main']);
  await git(tmp, ['-C', work, 'add', '-A']);
  await git(tmp, ['-C', work, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'examples/monorepo']);
  commit = await git(tmp, ['-C', work, 'rev-parse', 'HEAD']);
  const served = path.join(tmp, 'served');
  fs.mkdirSync(served);
  await git(tmp, ['clone', '-q', '--bare', work, path.join(served, 'monorepo.git')]);
  daemon = await gitDaemon(served, env.gitListen);
  repoUrl = daemon.url('monorepo.git');

  await synthesizeAndApply(env, tmp, {
    template: 'forge-discovery',
    adjust: (config) => {
      config.pipeline = { ...(config.pipeline as object), phaseGroupSlots: SLOTS };
    },
  });
});

afterAll(async () => {
  await daemon?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('forge-discovery on a real cluster', () => {
  it('discovers examples/monorepo from git and its outputs match `npx forge discover`', async () => {
    // Locally, from the same URL, commit and branch.
    const localOut = path.join(tmp, 'local-outputs');
    const local = await run(process.execPath, [
      path.join(REPO_ROOT, 'bin/forge.mjs'), 'discover', '--repo-url', repoUrl, '--commit', commit, '--branch', 'main',
      '--slots', String(SLOTS), '--output', 'json', '--outputs-dir', localOut,
    ]);
    expect(local.code, local.stderr).toBe(0);

    const r = await argo(env, [
      'submit', '--from', 'workflowtemplate/forge-discovery', '--wait', '-o', 'name',
      '-p', `repo-url=${repoUrl}`, '-p', `commit=${commit}`, '-p', 'branch=main',
    ]);
    const name = submittedName(r);
    const wf = await getWorkflow(env, name);
    if (wf.status.phase !== 'Succeeded') {
      const logs = await argo(env, ['logs', name, '--no-color']);
      throw new Error(`forge-discovery ended ${wf.status.phase}: ${wf.status.message ?? ''}\n${logs.stdout}\n${r.stdout}${r.stderr}`);
    }
    expect(r.code).toBe(0);
    const node = Object.values(wf.status.nodes ?? {}).find((n) => n.type === 'Pod' && n.templateName === 'discover');
    const params = Object.fromEntries((node?.outputs?.parameters ?? []).map((p) => [p.name, p.value ?? '']));

    const files: Record<string, string> = {
      'project-count': 'project-count',
      'group-count': 'group-count',
      'release-projects': 'release-projects',
      summary: 'summary.json',
      ...Object.fromEntries(Array.from({ length: SLOTS }, (_, i) => [`group-${i + 1}`, `group-${i + 1}`])),
    };
    for (const [param, file] of Object.entries(files)) {
      const expected = fs.readFileSync(path.join(localOut, file), 'utf8').trim();
      expect(params[param], `output parameter ${param}`).toBeDefined();
      expect(JSON.parse(params[param]!), `output parameter ${param}`).toEqual(JSON.parse(expected));
    }
    expect(JSON.parse(params.summary!)).toMatchObject({ commit, projects: 3, groups: 3, tasks: 9, releaseProjects: ['api'] });
  });
});
