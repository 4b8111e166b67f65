import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { publishGithubAsset, type GithubTarget } from './publish-github.ts';

// The github publisher against a local server that holds GitHub's REST contract for releases and
// assets (paths, headers, bodies) and refuses anything else.
const TOKEN = 'ghs_test-token-never-printed';
let server: Server;
let base: string;
let tmp: string;
const releases: { id: number; tag_name: string; assets: { id: number; name: string; digest: string; size: number; browser_download_url: string }[] }[] = [];
const calls: string[] = [];

function contract(req: IncomingMessage): string | undefined {
  if (req.headers.authorization !== `Bearer ${TOKEN}`) return 'Bad credentials';
  if (req.headers.accept !== 'application/vnd.github+json') return `Accept: ${req.headers.accept}`;
  if (req.headers['x-github-api-version'] !== '2022-11-28') return 'X-GitHub-Api-Version missing';
  if (!req.headers['user-agent']) return 'User-Agent missing';
  return undefined;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-github-'));
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url!, 'http://x');
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, value: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
    const problem = contract(req);
    if (problem) return send(problem === 'Bad credentials' ? 401 : 400, { message: problem });
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/api\/repos\/acme\/cli\/releases\/tags\/(.+)$/.exec(url.pathname))) {
      const r = releases.find((x) => x.tag_name === decodeURIComponent(m![1]!));
      return r ? send(200, { id: r.id }) : send(404, { message: 'Not Found' });
    }
    if (req.method === 'POST' && url.pathname === '/api/repos/acme/cli/releases') {
      if (req.headers['content-type'] !== 'application/json') return send(415, { message: 'json only' });
      const input = JSON.parse(body.toString()) as { tag_name: string; draft: boolean };
      if (!input.tag_name || input.draft !== false) return send(422, { message: 'Validation Failed' });
      const r = { id: releases.length + 1, tag_name: input.tag_name, assets: [] };
      releases.push(r);
      return send(201, { id: r.id, upload_url: `${base}/uploads/repos/acme/cli/releases/${r.id}/assets{?name,label}` });
    }
    if (req.method === 'GET' && (m = /^\/api\/repos\/acme\/cli\/releases\/(\d+)\/assets$/.exec(url.pathname))) {
      return send(200, releases.find((x) => x.id === Number(m![1]))?.assets ?? []);
    }
    if (req.method === 'POST' && (m = /^\/uploads\/repos\/acme\/cli\/releases\/(\d+)\/assets$/.exec(url.pathname))) {
      const r = releases.find((x) => x.id === Number(m![1]));
      const name = url.searchParams.get('name')!;
      if (!r || req.headers['content-type'] !== 'application/octet-stream' || Number(req.headers['content-length']) !== body.length) return send(400, { message: 'bad upload' });
      if (r.assets.some((a) => a.name === name)) return send(422, { message: 'already_exists' });
      const a = { id: r.assets.length + 1, name, size: body.length, digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, browser_download_url: `${base}/download/${r.tag_name}/${name}` };
      r.assets.push(a);
      return send(201, a);
    }
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(tmp, { recursive: true, force: true });
});

const target = (over: Partial<GithubTarget> = {}): GithubTarget => ({ apiUrl: `${base}/api`, uploadUrl: `${base}/uploads`, owner: 'acme', repo: 'cli', tag: 'cli/v1.0.0', token: TOKEN, ...over });

describe('github publisher', () => {
  test('creates the release of the tag, uploads the asset once, reuses it, refuses other content', async () => {
    const file = join(tmp, 'cli-linux-amd64.tar.gz');
    await writeFile(file, 'archive bytes');
    const first = await publishGithubAsset(target(), file);
    expect(first).toEqual({ uri: `${base}/download/cli/v1.0.0/cli-linux-amd64.tar.gz`, digest: `sha256:${createHash('sha256').update('archive bytes').digest('hex')}`, reused: false });
    expect(calls).toEqual([
      'GET /api/repos/acme/cli/releases/tags/cli%2Fv1.0.0',
      'POST /api/repos/acme/cli/releases',
      'GET /api/repos/acme/cli/releases/1/assets?per_page=100',
      'POST /uploads/repos/acme/cli/releases/1/assets?name=cli-linux-amd64.tar.gz',
    ]);
    expect(await publishGithubAsset(target(), file)).toEqual({ ...first, reused: true });
    expect(releases).toHaveLength(1);
    await writeFile(file, 'another build');
    await expect(publishGithubAsset(target(), file)).rejects.toThrow(/release cli\/v1.0.0 of acme\/cli already has an asset cli-linux-amd64.tar.gz \(sha256:[0-9a-f]{64}\), not this artifact's sha256:[0-9a-f]{64}: a published asset is never replaced/);
  });

  test('a token GitHub refuses: the status and a hint, never the token', async () => {
    const file = join(tmp, 'x');
    await writeFile(file, 'x');
    const e = await publishGithubAsset(target({ token: 'ghs_wrong-secret' }), file).catch((x: unknown) => x as Error);
    expect((e as Error).message).toBe('GitHub GET /api/repos/acme/cli/releases/tags/cli%2Fv1.0.0: 401 Bad credentials (the token is not valid)');
    expect(JSON.stringify(e)).not.toContain('ghs_wrong-secret');
    await expect(publishGithubAsset(target({ owner: '../x' }), file)).rejects.toThrow('github owner "../x" is not a GitHub name');
  });
});
