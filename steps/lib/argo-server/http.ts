import { ForgeError, type ForgeErrorCode } from '../errors.ts';
import type { ServerError, StreamError } from './types.ts';

/**
 * One Argo Server: its base URL and the bearer token sent with every request. The token lives
 * only in this closure: every message built from a response or a network error goes through
 * `redact`, so neither the token nor a URL's credentials can reach a log or the terminal.
 */
export interface ArgoServerConnection {
  /** Base URL without a trailing slash (`http://127.0.0.1:2746`). */
  readonly base: string;
  /** JSON request; throws a ForgeError naming the server and what to check for any non-2xx. */
  json<T>(method: 'GET' | 'POST' | 'PUT', path: string, what: string, body?: unknown): Promise<T>;
  /** A streaming GET (server-sent events); the response is open and 2xx, or a ForgeError was thrown. */
  stream(path: string, what: string, signal: AbortSignal): Promise<Response>;
  /** The text with the token and any URL credentials replaced by `***`. */
  redact(text: string): string;
}

export interface ConnectOptions {
  server: string;
  token?: string;
  /** Per-request time limit for non-streaming calls (default 30 s). */
  timeoutMs?: number;
}

/** Validates the server URL: http(s), no credentials in it, no query or fragment. */
export function serverBase(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ForgeError('INVALID_ARGS', `--server must be an http(s) URL such as https://argo.example.com (got ${JSON.stringify(server.slice(0, 200))})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ForgeError('INVALID_ARGS', `--server must be http:// or https:// (got ${url.protocol})`);
  if (url.username || url.password) throw new ForgeError('INVALID_ARGS', '--server must not carry credentials: give the token with --token-file or ARGO_TOKEN');
  if (url.search || url.hash) throw new ForgeError('INVALID_ARGS', '--server takes no query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const STATUS_CODES: Record<number, ForgeErrorCode> = {
  401: 'ARGO_SERVER_UNAUTHORIZED',
  403: 'ARGO_SERVER_FORBIDDEN',
  404: 'ARGO_SERVER_NOT_FOUND',
  409: 'ARGO_SERVER_CONFLICT',
};

function advice(status: number, base: string): string {
  switch (status) {
    case 401:
      return `the Argo Server at ${base} did not accept the token: check that --token-file or ARGO_TOKEN holds a current token for this server (with --auth-mode=client, a Kubernetes service-account token of the cluster)`;
    case 403:
      return `the token's account may not do this: grant its service account RBAC on workflows.argoproj.io (create, get, list, watch, update) and workflowtemplates (get) in the namespace`;
    case 404:
      return 'check --namespace and the name (the namespace must exist and hold the workflow or template)';
    case 409:
      return 'it already exists';
    default:
      return `the Argo Server at ${base} answered HTTP ${status}`;
  }
}

/** Network failures (refused, unknown host, reset, time-out) as one error that names the server. */
export function unreachable(base: string, what: string, e: unknown, redact: (s: string) => string): ForgeError {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const reason = err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.cause?.message ?? err.message ?? String(e));
  return new ForgeError(
    'ARGO_SERVER_UNREACHABLE',
    redact(`cannot reach the Argo Server at ${base} to ${what} (${reason}): check --server (or ARGO_SERVER), that \`argo server\` runs there and that this machine can reach its port`),
    [],
    { cause: e },
  );
}

/** The error of a non-2xx response, with the server's own message (redacted, bounded). */
export async function responseError(res: Response, base: string, what: string, redact: (s: string) => string): Promise<ForgeError> {
  const text = await res.text().catch(() => '');
  let message = text;
  try {
    // A stream's error arrives as one server-sent event: `data: {"error": {…}}`.
    const parsed = JSON.parse(text.replace(/^data:\s*/, '')) as Omit<ServerError, 'error'> & { error?: StreamError | string };
    message = parsed.message ?? (typeof parsed.error === 'object' ? parsed.error.message : parsed.error) ?? text;
  } catch {
    // not JSON: keep the text
  }
  const server = message.trim() ? `: ${message.trim().slice(0, 500)}` : '';
  const code = STATUS_CODES[res.status] ?? 'ARGO_SERVER_FAILED';
  return new ForgeError(code, redact(`${what}: HTTP ${res.status}${server} — ${advice(res.status, base)}`));
}

export function connect(options: ConnectOptions): ArgoServerConnection {
  const base = serverBase(options.server);
  const token = options.token;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const secrets = token ? [token, encodeURIComponent(token)] : [];
  const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const headers = (accept: string, json: boolean): Record<string, string> => ({
    accept,
    ...(json ? { 'content-type': 'application/json' } : {}),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });

  return {
    base,
    redact,
    async json<T>(method: 'GET' | 'POST' | 'PUT', path: string, what: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: headers('application/json', body !== undefined),
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
      } catch (e) {
        throw unreachable(base, what, e, redact);
      }
      if (!res.ok) throw await responseError(res, base, what, redact);
      try {
        return (await res.json()) as T;
      } catch (e) {
        throw new ForgeError('ARGO_SERVER_FAILED', redact(`${what}: the Argo Server at ${base} sent a response that is not JSON (${(e as Error).message})`));
      }
    },
    async stream(path: string, what: string, signal: AbortSignal): Promise<Response> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, { headers: headers('text/event-stream', false), signal, redirect: 'error' });
      } catch (e) {
        throw unreachable(base, what, e, redact);
      }
      if (!res.ok || !res.body) throw await responseError(res, base, what, redact);
      return res;
    },
  };
}
