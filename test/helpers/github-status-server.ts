import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * A local stand-in for GitHub's commit-status endpoint that holds its REST contract:
 * `POST /api/repos/{owner}/{repo}/statuses/{sha}` with the bearer token, `Accept:
 * application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, a User-Agent and a JSON body
 * of state/target_url/description (≤ 140 characters)/context only; refuses anything else the way
 * GitHub does (401, 404, 415, 422). Only the repository `owner/repo` exists. Loopback, a free port.
 */
export interface GithubStatusServer {
  /** The API base (`<url>/api`), what `--api-url` takes. */
  apiUrl: string;
  received: { path: string; body: Record<string, unknown> }[];
  /** HTTP statuses answered to the next requests before the contract is looked at (5xx for retries). */
  queued: number[];
  /** Requests of any kind, refused ones too. */
  requests: number;
  stop(): Promise<void>;
}

function contract(req: IncomingMessage, body: string, token: string): [number, string] | undefined {
  if (req.headers.authorization !== `Bearer ${token}`) return [401, 'Bad credentials'];
  if (req.headers.accept !== 'application/vnd.github+json') return [400, `Accept: ${req.headers.accept}`];
  if (req.headers['x-github-api-version'] !== '2022-11-28') return [400, 'X-GitHub-Api-Version missing'];
  if (!req.headers['user-agent']) return [403, 'User-Agent missing'];
  if (req.headers['content-type'] !== 'application/json') return [415, 'json only'];
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return [400, 'Problems parsing JSON'];
  }
  const keys = Object.keys(value).filter((k) => !['state', 'target_url', 'description', 'context'].includes(k));
  if (keys.length) return [422, `unknown fields ${keys.join(',')}`];
  if (!['pending', 'success', 'failure', 'error'].includes(value.state as string)) return [422, 'Validation Failed: state'];
  if (typeof value.description === 'string' && [...value.description].length > 140) return [422, 'Validation Failed: description is too long (maximum is 140 characters)'];
  if (value.target_url !== undefined && !/^https?:\/\//.test(value.target_url as string)) return [422, 'Validation Failed: target_url'];
  return undefined;
}

export async function startGithubStatusServer(token: string, repository = 'acme/shop'): Promise<GithubStatusServer> {
  const state: Omit<GithubStatusServer, 'apiUrl' | 'stop'> = { received: [], queued: [], requests: 0 };
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += (c as Buffer).toString();
    state.requests++;
    const send = (status: number, value: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
    const next = state.queued.shift();
    if (next) return send(next, { message: 'Server Error' });
    const m = /^\/api\/repos\/([^/]+\/[^/]+)\/statuses\/([0-9a-f]{40})$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return send(404, { message: 'Not Found' });
    const problem = contract(req, body, token);
    if (problem) return send(problem[0], { message: problem[1] });
    if (m[1] !== repository) return send(404, { message: 'Not Found' });
    const value = JSON.parse(body) as Record<string, unknown>;
    state.received.push({ path: req.url!, body: value });
    send(201, { id: state.received.length, state: value.state, context: value.context ?? 'default', description: value.description, target_url: value.target_url });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return Object.assign(state, {
    apiUrl: `${url}/api`,
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  });
}
