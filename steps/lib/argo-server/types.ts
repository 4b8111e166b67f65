/**
 * The Argo Server types the client uses, generated at build time from Argo's OpenAPI definition
 * (images/toolchain/argo-server-types.mjs writes ./generated/argo-api.ts; git-ignored). Only
 * types come from there: nothing is imported at run time, so bundles need no generated file.
 */
import type { definitions, operations } from './generated/argo-api.ts';

type D = definitions;
export type Workflow = D['io.argoproj.workflow.v1alpha1.Workflow'];
export type WorkflowCreateRequest = D['io.argoproj.workflow.v1alpha1.WorkflowCreateRequest'];
export type WorkflowStopRequest = D['io.argoproj.workflow.v1alpha1.WorkflowStopRequest'];
export type WorkflowWatchEvent = D['io.argoproj.workflow.v1alpha1.WorkflowWatchEvent'];
export type NodeStatus = D['io.argoproj.workflow.v1alpha1.NodeStatus'];
export type LogEntry = D['io.argoproj.workflow.v1alpha1.LogEntry'];
export type ServerError = D['grpc.gateway.runtime.Error'];
export type StreamError = D['grpc.gateway.runtime.StreamError'];
/** Query parameters of the endpoints, as the definition names them. */
export type WatchQuery = operations['WorkflowService_WatchWorkflows']['parameters']['query'];
export type LogsQuery = operations['WorkflowService_WorkflowLogs']['parameters']['query'];

/** A workflow phase that never changes again. */
export const FINISHED_PHASES = ['Succeeded', 'Failed', 'Error'] as const;
export type FinishedPhase = (typeof FINISHED_PHASES)[number];
export function finishedPhase(wf: Workflow | undefined): FinishedPhase | undefined {
  const phase = wf?.status?.phase;
  return (FINISHED_PHASES as readonly string[]).includes(phase ?? '') ? (phase as FinishedPhase) : undefined;
}
