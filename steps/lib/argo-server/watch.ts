import { ForgeError, isForgeError } from '../errors.ts';
import type { ArgoServerConnection } from './http.ts';
import { sseResults } from './sse.ts';
import { finishedPhase, type Workflow, type WorkflowWatchEvent } from './types.ts';

export interface WatchOptions {
  /** First reconnect delay (doubles up to `maxDelayMs`; reset after an event arrives). Default 250 ms. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Reconnects in a row without an event before giving up (default 20: about a minute at the default delays). */
  maxAttempts?: number;
  /** A stream silent this long is reopened (default 60 s; the reopened watch starts with the current state). */
  idleMs?: number;
  /** Told about each reconnect (for a progress line). */
  onReconnect?: (attempt: number, delayMs: number, reason: string) => void;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Errors worth a reconnect: the network, the stream breaking, a restarting server (5xx). */
function retriable(e: unknown): boolean {
  if (!isForgeError(e)) return true;
  return e.code === 'ARGO_SERVER_UNREACHABLE' || (e.code === 'ARGO_SERVER_FAILED' && /HTTP 5\d\d|stream reported/.test(e.message));
}

/**
 * Watches one workflow by field selector (`GET /api/v1/workflow-events/{ns}?listOptions.fieldSelector=metadata.name=…`,
 * server-sent events) and yields its state each time it changes, until it finishes. A watch
 * opened without a resourceVersion starts with the current object (Kubernetes' list-then-watch
 * semantics, which the Argo Server passes on), so reopening after a dropped stream can never miss
 * the end: the first event of the new stream is the state now. Reconnects with exponential
 * backoff; 401/403/404 and a deleted workflow end the watch with their error.
 */
export async function* watchWorkflow(conn: ArgoServerConnection, namespace: string, name: string, options: WatchOptions = {}): AsyncGenerator<Workflow> {
  const initial = options.initialDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 20;
  const idleMs = options.idleMs ?? 60_000;
  const query = new URLSearchParams({ 'listOptions.fieldSelector': `metadata.name=${name}` });
  const path = `/api/v1/workflow-events/${encodeURIComponent(namespace)}?${query}`;
  const what = `watch workflow ${namespace}/${name}`;
  let attempt = 0;
  for (;;) {
    if (options.signal?.aborted) return;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let reason = 'the server closed the stream';
    try {
      const res = await conn.stream(path, what, abort.signal);
      for await (const event of sseResults<WorkflowWatchEvent>(res, abort, idleMs)) {
        if (!event.object) continue;
        if (event.type === 'DELETED') throw new ForgeError('ARGO_SERVER_NOT_FOUND', `workflow ${namespace}/${name} was deleted while being watched`);
        attempt = 0;
        yield event.object;
        if (finishedPhase(event.object)) return;
      }
    } catch (e) {
      if (options.signal?.aborted) return;
      if (!retriable(e)) throw e;
      // A short reason for the progress line: the network error's code, or the HTTP status.
      const err = (abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : e) as Error & { cause?: { code?: string; cause?: { code?: string } } };
      reason = conn.redact(err.cause?.cause?.code ?? err.cause?.code ?? /HTTP \d{3}/.exec(err.message)?.[0] ?? err.message.slice(0, 200));
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      abort.abort();
    }
    attempt += 1;
    if (attempt > maxAttempts) {
      throw new ForgeError('ARGO_SERVER_UNREACHABLE', `lost the watch of ${namespace}/${name} on the Argo Server at ${conn.base} ${maxAttempts} times in a row (${reason}): check that the server is up, then run \`forge submit\` again with the same arguments: it attaches to the same workflow`);
    }
    const delay = Math.min(maxDelay, initial * 2 ** (attempt - 1));
    options.onReconnect?.(attempt, delay, reason);
    await sleep(delay, options.signal);
  }
}
