import type { ArgoServerConnection } from './http.ts';
import { sseResults } from './sse.ts';
import type { LogEntry, LogsQuery, Workflow, WorkflowCreateRequest, WorkflowStopRequest } from './types.ts';
import { watchWorkflow, type WatchOptions } from './watch.ts';

/**
 * The few Argo Server endpoints forge uses, typed from Argo's OpenAPI definition (./types.ts).
 * No npm package of Argo's own TypeScript client exists; this is the whole client.
 * Submission goes through **create** (`POST /api/v1/workflows/{ns}`), never `/submit`, which
 * splits labels and annotations on commas.
 */
export class ArgoServerClient {
  constructor(readonly conn: ArgoServerConnection) {}

  private static path(namespace: string, name?: string, tail = ''): string {
    const ns = `/api/v1/workflows/${encodeURIComponent(namespace)}`;
    return name === undefined ? ns : `${ns}/${encodeURIComponent(name)}${tail}`;
  }

  /** Creates a Workflow (typically `spec.workflowTemplateRef`); 409 when the name is taken. */
  create(namespace: string, workflow: Workflow): Promise<Workflow> {
    const body: WorkflowCreateRequest = { namespace, workflow };
    return this.conn.json<Workflow>('POST', ArgoServerClient.path(namespace), `create workflow ${namespace}/${workflow.metadata.name ?? workflow.metadata.generateName ?? ''}`, body);
  }

  get(namespace: string, name: string): Promise<Workflow> {
    return this.conn.json<Workflow>('GET', ArgoServerClient.path(namespace, name), `get workflow ${namespace}/${name}`);
  }

  /** Stops a running workflow: exit handlers still run (unlike terminate). */
  stop(namespace: string, name: string, message?: string): Promise<Workflow> {
    const body: WorkflowStopRequest = { namespace, name, ...(message ? { message } : {}) };
    return this.conn.json<Workflow>('PUT', ArgoServerClient.path(namespace, name, '/stop'), `stop workflow ${namespace}/${name}`, body);
  }

  /** Watches until the workflow finishes (see watch.ts: reconnects, never misses the end). */
  watch(namespace: string, name: string, options?: WatchOptions): AsyncGenerator<Workflow> {
    return watchWorkflow(this.conn, namespace, name, options);
  }

  /**
   * The log lines of a workflow's pods (or one pod), not followed: what `argo logs` prints.
   * At most `maxLines` lines are kept (the last ones).
   */
  async logs(namespace: string, name: string, query: LogsQuery = {}, maxLines = 2_000, timeoutMs = 30_000): Promise<LogEntry[]> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ 'logOptions.container': 'main', ...query })) if (v !== undefined) params.set(k, String(v));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const lines: LogEntry[] = [];
    try {
      const res = await this.conn.stream(`${ArgoServerClient.path(namespace, name, '/log')}?${params}`, `read the logs of ${namespace}/${name}`, abort.signal);
      for await (const entry of sseResults<LogEntry>(res, abort, timeoutMs)) {
        lines.push(entry);
        if (lines.length > maxLines) lines.shift();
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    } finally {
      clearTimeout(timer);
    }
    return lines;
  }
}
