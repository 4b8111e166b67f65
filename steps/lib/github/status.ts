import { z } from 'zod';
import { formatDuration } from '../duration.ts';
import { ForgeError } from '../errors.ts';
import { githubCall } from './rest.ts';

/**
 * Commit statuses (`POST /repos/{owner}/{repo}/statuses/{sha}`), the way the platform reports a
 * pipeline run on a commit (reference §2.7): context `ci/catalyst-forge`, `pending` with the Argo UI
 * link at submission, `success`/`failure`/`error` at the end. Retried on network errors, 5xx and 429
 * (setting the same status twice is harmless); refusals name what to check; the token is never printed.
 */
export const COMMIT_STATES = ['pending', 'success', 'failure', 'error'] as const;
export type CommitState = (typeof COMMIT_STATES)[number];
export const DEFAULT_CONTEXT = 'ci/catalyst-forge';
/** GitHub's limit on a status description. */
export const MAX_DESCRIPTION = 140;

export interface CommitStatus {
  /** `https://api.github.com`, or an Enterprise server's `https://<host>/api/v3`. */
  apiUrl: string;
  owner: string;
  repo: string;
  /** The full commit SHA. */
  sha: string;
  state: CommitState;
  /** Where the status links to (the run in the Argo UI). */
  targetUrl?: string;
  /** Cut to 140 characters (with `…`) when longer. */
  description?: string;
  context?: string;
  token: string;
  /** Tries in all on network errors and 5xx (default 4: waits of 1, 2 and 4 × backoffMs). */
  attempts?: number;
  backoffMs?: number;
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
}

const answer = z.looseObject({ id: z.number(), state: z.string(), context: z.string() });

/** Argo's workflow status → the commit state (reference §2.7: anything else is an error). */
export function commitState(status: string): Exclude<CommitState, 'pending'> {
  return status === 'Succeeded' ? 'success' : status === 'Failed' ? 'failure' : 'error';
}

/** The reference's message for a state; a finished run says how long it took when known. */
export function defaultDescription(state: CommitState, durationSeconds?: number): string {
  const took = durationSeconds !== undefined && Number.isFinite(durationSeconds) ? ` in ${formatDuration(durationSeconds * 1000)}` : '';
  switch (state) {
    case 'pending':
      return 'Pipeline started - discovering projects...';
    case 'success':
      return `Pipeline succeeded${took}`;
    case 'failure':
      return `Pipeline failed${took}`;
    case 'error':
      return `Pipeline errored${took}`;
  }
}

/** A description GitHub takes: at most 140 characters, cut with `…`. */
export function fitDescription(text: string): string {
  const chars = [...text];
  return chars.length <= MAX_DESCRIPTION ? text : `${chars.slice(0, MAX_DESCRIPTION - 1).join('')}…`;
}

export async function setCommitStatus(s: CommitStatus): Promise<{ id: number; state: string; context: string; description: string }> {
  const bad = (field: string, message: string) => new ForgeError('INVALID_ARGS', 'invalid commit status', [{ field, message }]);
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(s.sha)) throw bad('sha', 'must be the full commit SHA (40 or 64 lowercase hex characters)');
  if (!(COMMIT_STATES as readonly string[]).includes(s.state)) throw bad('state', `must be one of ${COMMIT_STATES.join(', ')}`);
  const context = s.context ?? DEFAULT_CONTEXT;
  if (!/^[\x21-\x7e][\x20-\x7e]{0,254}$/.test(context)) throw bad('context', 'must be 1–255 printable ASCII characters');
  if (s.targetUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(s.targetUrl)) throw bad('targetUrl', 'must be an http(s) URL without spaces');
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(s.apiUrl)) throw bad('apiUrl', 'must be an http(s) URL (https://api.github.com)');
  const description = fitDescription(s.description ?? defaultDescription(s.state));
  const where = `${s.owner}/${s.repo}`;
  const body = { state: s.state, ...(s.targetUrl ? { target_url: s.targetUrl } : {}), description, context };
  const value = await githubCall({
    method: 'POST',
    url: `${s.apiUrl.replace(/\/+$/, '')}/repos/${encodeURIComponent(s.owner)}/${encodeURIComponent(s.repo)}/statuses/${s.sha}`,
    token: s.token,
    body: Buffer.from(JSON.stringify(body)),
    type: 'application/json',
    code: 'GITHUB_FAILED',
    attempts: s.attempts ?? 4,
    backoffMs: s.backoffMs ?? 1000,
    timeoutMs: 30_000,
    ...(s.onRetry ? { onRetry: s.onRetry } : {}),
    hints: {
      401: 'the token is not valid or has expired: check the token file or GITHUB_TOKEN (the Secret in the cluster)',
      403: `the token may not write commit statuses of ${where}: it needs "Commit statuses: write" (fine-grained) or repo:status (classic)`,
      404: `no repository ${where} the token can see, or no commit ${s.sha.slice(0, 12)} in it: check --repo-url, --commit and the token's repository access`,
      422: `GitHub refused the status (state ${s.state}, context ${context}): check the commit SHA and the target URL`,
    },
  });
  const parsed = answer.safeParse(value);
  if (!parsed.success) throw new ForgeError('GITHUB_FAILED', `GitHub answered the status of ${where}@${s.sha.slice(0, 12)} with something that is not a status`);
  return { id: parsed.data.id, state: parsed.data.state, context: parsed.data.context, description };
}
