/** The Argo Server REST client (README.md beside this file). */
export { ArgoServerClient } from './client.ts';
export { connect, serverBase, type ArgoServerConnection, type ConnectOptions } from './http.ts';
export { loadToken } from './token.ts';
export { finishedPhase, FINISHED_PHASES, type FinishedPhase, type LogEntry, type NodeStatus, type Workflow } from './types.ts';
export type { WatchOptions } from './watch.ts';
