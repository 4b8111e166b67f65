import { ForgeError, type ForgeErrorCode } from '../errors.ts';

/**
 * One call of GitHub's REST API (`X-GitHub-Api-Version: 2022-11-28`), shared by the release
 * publisher (steps/lib/release/publish-github.ts) and commit statuses (status.ts). The token goes
 * in the Authorization header only: no message built here quotes it, a URL's query or the body.
 * Network errors, 5xx and 429 are retried with exponential backoff when `attempts` > 1 (only for calls
 * that are safe to repeat); 401/403/404/422 carry a hint naming what to check.
 */
export interface GithubCall {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  token: string;
  body?: Buffer;
  /** Content-Type of the body. */
  type?: string;
  /** A 404 answers `undefined` instead of failing. */
  notFoundOk?: boolean;
  /** The ForgeError code of a failure. */
  code: ForgeErrorCode;
  /** What to check for a refusal, by HTTP status (replaces the generic hint). */
  hints?: Partial<Record<401 | 403 | 404 | 422, string>>;
  /** Tries in all (default 1: no retry). */
  attempts?: number;
  /** First backoff delay, ms (doubled each retry; default 1000). */
  backoffMs?: number;
  /** Deadline of one try, ms (default none: an upload of a large asset takes what it takes). */
  timeoutMs?: number;
  /** Told before each retry (what failed, the wait), for a log line. */
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
}

const HINTS: Record<401 | 403 | 404 | 422, string> = {
  401: 'the token is not valid',
  403: 'the token lacks the permission this call needs',
  404: 'no such repository, or the token cannot see it',
  422: 'GitHub refused the request body',
};

/** The `message` of a GitHub error body, else its first 200 characters. */
function messageOf(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

function parseBody(text: string, where: string, code: ForgeErrorCode): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ForgeError(code, `${where}: the answer is not JSON (${text.length} bytes): is the API URL GitHub's REST API?`);
  }
}

export async function githubCall(call: GithubCall): Promise<unknown> {
  const attempts = call.attempts ?? 1;
  const where = `GitHub ${call.method} ${new URL(call.url).pathname}`;
  for (let attempt = 1; ; attempt++) {
    let retryReason: string;
    try {
      const res = await fetch(call.url, {
        method: call.method,
        headers: {
          Accept: 'application/vnd.github+json',
          Authorization: `Bearer ${call.token}`,
          'X-GitHub-Api-Version': '2022-11-28',
          'User-Agent': 'forge-workflows',
          ...(call.type ? { 'Content-Type': call.type } : {}),
        },
        ...(call.body ? { body: call.body } : {}),
        ...(call.timeoutMs ? { signal: AbortSignal.timeout(call.timeoutMs) } : {}),
      });
      if (res.status === 404 && call.notFoundOk) return undefined;
      const text = await res.text();
      if (res.ok) return parseBody(text, where, call.code);
      const message = messageOf(text);
      // 5xx and 429 (rate limited) pass; anything else GitHub refused stays refused.
      if ((res.status < 500 && res.status !== 429) || attempt >= attempts) {
        const status = res.status as keyof typeof HINTS;
        const hint = call.hints?.[status] ?? HINTS[status];
        const tries = attempt > 1 ? ` (after ${attempt} tries)` : '';
        throw new ForgeError(call.code, `${where}: ${res.status} ${message}${hint ? ` (${hint})` : ''}${tries}`);
      }
      retryReason = `${res.status} ${message}`;
    } catch (e) {
      if (e instanceof ForgeError) throw e;
      const reason = (e as Error).cause instanceof Error ? `${(e as Error).message}: ${((e as Error).cause as Error).message}` : (e as Error).message;
      if (attempt >= attempts) throw new ForgeError(call.code, `${where}: ${reason}${attempt > 1 ? ` (after ${attempt} tries)` : ''}`);
      retryReason = reason;
    }
    const delay = (call.backoffMs ?? 1000) * 2 ** (attempt - 1);
    call.onRetry?.(retryReason, delay, attempt + 1);
    await new Promise((r) => setTimeout(r, delay));
  }
}
