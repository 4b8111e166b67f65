import { createServer } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startGithubStatusServer, type GithubStatusServer } from '../../../test/helpers/github-status-server.ts';
import { ForgeError } from '../errors.ts';
import { parseGithubRepository } from './repository.ts';
import { COMMIT_STATES, defaultDescription, setCommitStatus, type CommitStatus } from './status.ts';

// Commit statuses against a local server that holds GitHub's REST contract for
// POST /repos/{owner}/{repo}/statuses/{sha} (path, every header, the body and its limits) and
// refuses anything else the way GitHub does.
const TOKEN = 'ghs_status-token-never-printed';
const SHA = 'c0ffee'.padEnd(40, '1');
let github: GithubStatusServer;
let base: string;
let received: GithubStatusServer['received'];
let queued: number[];

beforeAll(async () => {
  github = await startGithubStatusServer(TOKEN);
  base = github.apiUrl.replace(/\/api$/, '');
  ({ received, queued } = github);
});
afterAll(() => github.stop());
beforeEach(() => {
  received.length = 0;
  queued.length = 0;
});

const status = (over: Partial<CommitStatus> = {}): CommitStatus => ({
  apiUrl: `${base}/api`,
  owner: 'acme',
  repo: 'shop',
  sha: SHA,
  state: 'pending',
  targetUrl: 'https://argo.example/workflows/argo/shop-c0ffee-1',
  token: TOKEN,
  backoffMs: 10,
  ...over,
});

const refused = (p: Promise<unknown>): Promise<ForgeError> =>
  p.then(
    () => {
      throw new Error('accepted');
    },
    (e: unknown) => e as ForgeError,
  );

describe('setCommitStatus', () => {
  test('each state: the path, the body GitHub takes and the reference message', async () => {
    for (const state of COMMIT_STATES) await setCommitStatus(status({ state, description: defaultDescription(state, state === 'pending' ? undefined : 245) }));
    expect(received.map((r) => r.path)).toEqual(COMMIT_STATES.map(() => `/api/repos/acme/shop/statuses/${SHA}`));
    expect(received.map((r) => r.body)).toEqual([
      { state: 'pending', target_url: 'https://argo.example/workflows/argo/shop-c0ffee-1', description: 'Pipeline started - discovering projects...', context: 'ci/catalyst-forge' },
      { state: 'success', target_url: 'https://argo.example/workflows/argo/shop-c0ffee-1', description: 'Pipeline succeeded in 4m05s', context: 'ci/catalyst-forge' },
      { state: 'failure', target_url: 'https://argo.example/workflows/argo/shop-c0ffee-1', description: 'Pipeline failed in 4m05s', context: 'ci/catalyst-forge' },
      { state: 'error', target_url: 'https://argo.example/workflows/argo/shop-c0ffee-1', description: 'Pipeline errored in 4m05s', context: 'ci/catalyst-forge' },
    ]);
  });

  test('a description longer than 140 characters is cut to 140 with an ellipsis, which GitHub takes', async () => {
    const set = await setCommitStatus(status({ state: 'failure', description: `Pipeline failed: ${'é'.repeat(300)}` }));
    expect([...set.description]).toHaveLength(140);
    expect(set.description.endsWith('é…')).toBe(true);
    expect(received[0]!.body.description).toBe(set.description);
  });

  test('a 502, a 503 and a 429 are retried with backoff, then the status is set', async () => {
    queued.push(502, 503, 429);
    const retries: string[] = [];
    const set = await setCommitStatus(status({ state: 'success', onRetry: (reason, delay, attempt) => retries.push(`${reason}|${delay}|${attempt}`) }));
    expect(set).toMatchObject({ id: 1, state: 'success', context: 'ci/catalyst-forge' });
    expect(retries).toEqual(['502 Server Error|10|2', '503 Server Error|20|3', '429 Server Error|40|4']);
    expect(received).toHaveLength(1);
  });

  test('a server that keeps failing: the error says how many tries', async () => {
    queued.push(500, 500, 500, 500);
    await expect(setCommitStatus(status())).rejects.toThrow(`GitHub POST /api/repos/acme/shop/statuses/${SHA}: 500 Server Error (after 4 tries)`);
  });

  test('401 and 404 fail at once, naming what to check, never the token', async () => {
    const wrong = 'ghs_wrong-secret-value';
    const e401 = await refused(setCommitStatus(status({ token: wrong })));
    expect(e401).toBeInstanceOf(ForgeError);
    expect(e401.code).toBe('GITHUB_FAILED');
    expect(e401.message).toBe(`GitHub POST /api/repos/acme/shop/statuses/${SHA}: 401 Bad credentials (the token is not valid or has expired: check the token file or GITHUB_TOKEN (the Secret in the cluster))`);
    const e404 = await refused(setCommitStatus(status({ repo: 'other' })));
    expect(e404.message).toBe(
      `GitHub POST /api/repos/acme/other/statuses/${SHA}: 404 Not Found (no repository acme/other the token can see, or no commit c0ffee111111 in it: check --repo-url, --commit and the token's repository access)`,
    );
    for (const e of [e401, e404]) expect(`${e.message}${JSON.stringify(e)}${e.stack}`).not.toMatch(/ghs_/);
    expect(received).toHaveLength(0);
  });

  test('an unreachable server is retried, then named', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    await expect(setCommitStatus(status({ apiUrl: `http://127.0.0.1:${closed}`, attempts: 2 }))).rejects.toThrow(/^GitHub POST \/repos\/acme\/shop\/statuses\/c0ffee1{34}: fetch failed: .*ECONNREFUSED.* \(after 2 tries\)$/);
  });

  test('an API URL that answers something else than JSON (a UI, a proxy page) is named, not retried', async () => {
    let hits = 0;
    const html = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>sign in</html>');
    });
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
    try {
      const port = (html.address() as { port: number }).port;
      await expect(setCommitStatus(status({ apiUrl: `http://127.0.0.1:${port}` }))).rejects.toThrow(
        `GitHub POST /repos/acme/shop/statuses/${SHA}: the answer is not JSON (20 bytes): is the API URL GitHub's REST API?`,
      );
      expect(hits).toBe(1);
    } finally {
      await new Promise((r) => html.close(r));
    }
  });

  test('refuses what GitHub would: a short SHA, an unknown state, a target URL that is not http(s)', async () => {
    await expect(setCommitStatus(status({ sha: 'c0ffee' }))).rejects.toMatchObject({ details: [{ field: 'sha' }] });
    await expect(setCommitStatus(status({ state: 'running' as never }))).rejects.toMatchObject({ details: [{ field: 'state' }] });
    await expect(setCommitStatus(status({ targetUrl: 'javascript:alert(1)' }))).rejects.toMatchObject({ details: [{ field: 'targetUrl' }] });
    expect(received).toHaveLength(0);
  });
});

describe('parseGithubRepository', () => {
  test.each([
    ['https://github.com/acme/shop.git', 'acme', 'shop'],
    ['https://github.com/acme/shop', 'acme', 'shop'],
    ['https://ghe.example/acme/shop.js/', 'acme', 'shop.js'],
    ['ssh://git@github.com/acme/shop.git', 'acme', 'shop'],
    ['ssh://git@ghe.example:2222/acme/shop', 'acme', 'shop'],
    ['git@github.com:acme/shop.git', 'acme', 'shop'],
  ])('%s', (url, owner, repo) => {
    expect(parseGithubRepository(url)).toEqual({ owner, repo });
  });

  test.each([
    ['http://github.com/acme/shop', 'is not an https://host/owner/repo, ssh://host/owner/repo or git@host:owner/repo URL'],
    ['file:///srv/shop.git', 'is not an https://host/owner/repo'],
    ['/srv/shop.git', 'is not an https://host/owner/repo'],
    ['https://x-access-token:ghs_secret@github.com/acme/shop.git', 'must not carry credentials'],
    ['https://github.com/acme/group/shop.git', 'its path must be owner/repo (got 3 segments)'],
    ['https://github.com/shop.git', 'its path must be owner/repo (got 1 segment)'],
    ['git@github.com:-acme/shop', 'owner "-acme" is not a GitHub user or organization name'],
    ['git@github.com:acme/..', 'repository ".." is not a GitHub repository name'],
    ['https://github.com/acme/shop?x=1', 'must not have a query or fragment'],
    ['https://github.com/acme/sh op', 'without spaces'],
  ])('refuses %s', (url, why) => {
    const e = (() => {
      try {
        parseGithubRepository(url);
      } catch (x) {
        return x as ForgeError;
      }
      throw new Error('accepted');
    })();
    expect(e.message).toContain(why);
    expect(e.message).not.toContain('ghs_secret');
  });
});
