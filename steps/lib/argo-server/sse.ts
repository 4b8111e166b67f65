import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ForgeError } from '../errors.ts';
import type { StreamError } from './types.ts';

/** Largest single event accepted (a big workflow's status is a few MiB at most). */
const MAX_EVENT_BYTES = 32 << 20;

/**
 * The events of one server-sent-event response of the Argo Server (grpc-gateway's streaming
 * answers: each `data:` line is `{"result": …}` or `{"error": …}`), parsed with
 * eventsource-parser. Ends when the server closes the stream; a broken connection throws the
 * network error (the caller decides whether to reconnect). `idleMs` without a byte aborts
 * through `abort` (a half-open connection otherwise waits for ever).
 */
export async function* sseResults<T>(res: Response, abort: AbortController, idleMs: number): AsyncGenerator<T> {
  const pending: T[] = [];
  let failure: ForgeError | undefined;
  const parser = createParser({
    onEvent(event: EventSourceMessage) {
      if (!event.data) return;
      if (event.data.length > MAX_EVENT_BYTES) {
        failure = new ForgeError('ARGO_SERVER_FAILED', `an event of ${event.data.length} bytes exceeds the ${MAX_EVENT_BYTES}-byte limit`);
        return;
      }
      let parsed: { result?: T; error?: StreamError };
      try {
        parsed = JSON.parse(event.data) as typeof parsed;
      } catch {
        failure = new ForgeError('ARGO_SERVER_FAILED', `the Argo Server sent an event that is not JSON (${event.data.slice(0, 100)})`);
        return;
      }
      if (parsed.error) {
        const e = parsed.error;
        failure = new ForgeError('ARGO_SERVER_FAILED', `the Argo Server's stream reported an error: ${e.message ?? e.http_status ?? 'unknown'} (HTTP ${e.http_code ?? '?'})`);
      } else if (parsed.result !== undefined) {
        pending.push(parsed.result);
      }
    },
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
  };
  try {
    for (;;) {
      arm();
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (failure) throw failure;
      while (pending.length) yield pending.shift()!;
    }
  } finally {
    clearTimeout(idle);
    reader.cancel().catch(() => undefined);
  }
}
