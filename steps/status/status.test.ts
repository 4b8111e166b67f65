import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startGithubStatusServer, type GithubStatusServer } from '../../test/helpers/github-status-server.ts';

// `forge status` as the exit handler and people run it: a real process against the local server
// holding GitHub's commit-status contract. No output ever carries the token.
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
const TOKEN = 'ghs_cli-token-7d1e0b';
const SHA = 'be11ad'.padEnd(40, '2');
const UI = 'https://argo.example/workflows/forge/shop-be11ad222222-1a2b3c-1';
let github: GithubStatusServer;
let dir: string;
const outputs: string[] = [];

beforeAll(async () => {
  github = await startGithubStatusServer(TOKEN);
  dir = await mkdtemp(join(tmpdir(), 'forge-status-'));
  await writeFile(join(dir, 'token'), `${TOKEN}\n`);
  await writeFile(join(dir, 'wrong'), 'ghs_wrong-token-55aa\n');
});
afterAll(async () => {
  await github.stop();
  await rm(dir, { recursive: true, force: true });
  for (const o of outputs) expect(o).not.toMatch(/ghs_/);
});
beforeEach(() => {
  github.received.length = 0;
  github.queued.length = 0;
});

async function status(args: string[], env: Record<string, string> = {}) {
  const r = await execa(forge, ['status', '--api-url', github.apiUrl, '--repo-url', 'git@github.com:acme/shop.git', '--commit', SHA, '--target-url', UI, ...args], {
    reject: false,
    all: true,
    env: { FORGE_LOG_LEVEL: 'warn', GITHUB_TOKEN: '', ...env },
    extendEnv: true,
  });
  outputs.push(r.all ?? '');
  return r;
}

describe('forge status', () => {
  test('the exit handler\'s way: an Argo status and duration from FORGE_*, the token from GITHUB_TOKEN', async () => {
    for (const [phase, state, text] of [
      ['Succeeded', 'success', 'Pipeline succeeded in 2m05s'],
      ['Failed', 'failure', 'Pipeline failed in 2m05s'],
      ['Error', 'error', 'Pipeline errored in 2m05s'],
      ['Terminated', 'error', 'Pipeline errored in 2m05s'],
    ] as const) {
      const r = await status([], { FORGE_STATE: phase, FORGE_DURATION: '125.3', GITHUB_TOKEN: TOKEN });
      expect(r.all).toBe(`ci/catalyst-forge: ${state} on acme/shop@be11ad222222 — ${text}`);
      expect(r.exitCode).toBe(0);
      expect(github.received.pop()).toEqual({ path: `/api/repos/acme/shop/statuses/${SHA}`, body: { state, target_url: UI, description: text, context: 'ci/catalyst-forge' } });
    }
  });

  test('pending from a token file, with its message; --description and --context when given', async () => {
    expect((await status(['--state', 'pending', '--token-file', join(dir, 'token')])).exitCode).toBe(0);
    expect(github.received[0]!.body).toEqual({ state: 'pending', target_url: UI, description: 'Pipeline started - discovering projects...', context: 'ci/catalyst-forge' });
    expect((await status(['--state', 'failure', '--description', 'Running phase 2 of 3 failed', '--context', 'ci/other', '--token-file', join(dir, 'token')])).exitCode).toBe(0);
    expect(github.received[1]!.body).toMatchObject({ state: 'failure', description: 'Running phase 2 of 3 failed', context: 'ci/other' });
  });

  test('a 502 is retried and the status set; a refused token fails, exit 1, naming what to check', async () => {
    github.queued.push(502);
    const r = await status(['--state', 'success', '--token-file', join(dir, 'token')], { FORGE_LOG_LEVEL: 'info' });
    expect(r.exitCode).toBe(0);
    expect(r.all).toContain('commit status not set (502 Server Error); retrying in 1000 ms');
    expect(github.received).toHaveLength(1);
    const bad = await status(['--state', 'success', '--token-file', join(dir, 'wrong')]);
    expect(bad.exitCode).toBe(1);
    expect(bad.all).toContain('401 Bad credentials (the token is not valid or has expired: check the token file or GITHUB_TOKEN');
  });

  test('refuses what it cannot use: no token, an unknown state, a repository URL that is not GitHub-shaped', async () => {
    const none = await status(['--state', 'success']);
    expect([none.exitCode, none.all]).toEqual([2, expect.stringContaining('no GitHub token: give --token-file or set GITHUB_TOKEN')]);
    const state = await status(['--state', 'running'], { GITHUB_TOKEN: TOKEN });
    expect([state.exitCode, state.all]).toEqual([2, expect.stringContaining('--state: must be one of pending, success, failure, error or an Argo workflow status')]);
    const url = await status(['--state', 'success', '--repo-url', 'file:///srv/shop.git'], { GITHUB_TOKEN: TOKEN });
    expect([url.exitCode, url.all]).toEqual([2, expect.stringContaining('is not an https://host/owner/repo, ssh://host/owner/repo or git@host:owner/repo URL')]);
    expect(github.requests).toBeGreaterThan(0);
    expect(github.received).toHaveLength(0);
  });
});
