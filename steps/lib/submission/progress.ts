import type { NodeStatus, Workflow } from '../argo-server/index.ts';

/**
 * Progress lines from successive states of one workflow: a line per node whose phase changed
 * (pods and DAG tasks; the workflow's own node and retry/step-group wrappers are left out), and
 * one when the workflow's phase changes. Plain lines: CI logs are not terminals.
 */
export class Progress {
  private readonly seen = new Map<string, string>();
  private phase = '';

  update(wf: Workflow): string[] {
    const lines: string[] = [];
    const phase = wf.status?.phase ?? 'Pending';
    if (phase !== this.phase) {
      this.phase = phase;
      lines.push(`workflow ${wf.metadata.name}: ${phase}${wf.status?.message ? ` (${wf.status.message})` : ''}`);
    }
    const nodes = Object.values(wf.status?.nodes ?? {}).filter((n) => shown(n, wf)).sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
    for (const n of nodes) {
      const state = `${n.phase ?? 'Pending'}`;
      if (this.seen.get(n.id) === state) continue;
      this.seen.set(n.id, state);
      const took = n.startedAt && n.finishedAt ? ` in ${seconds(n.startedAt, n.finishedAt)}` : '';
      lines.push(`  ${(n.displayName ?? n.name).padEnd(32)} ${state}${took}${n.message && state !== 'Succeeded' ? `: ${n.message}` : ''}`);
    }
    return lines;
  }
}

function shown(n: NodeStatus, wf: Workflow): boolean {
  return n.name !== wf.metadata.name && !['Retry', 'StepGroup', 'TaskGroup'].includes(n.type);
}

function seconds(from: string, to: string): string {
  const s = Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
  return `${s.toFixed(s < 10 ? 1 : 0)}s`;
}

/** The pod nodes that failed (their logs are worth printing). */
export function failedPods(wf: Workflow): NodeStatus[] {
  return Object.values(wf.status?.nodes ?? {}).filter((n) => n.type === 'Pod' && (n.phase === 'Failed' || n.phase === 'Error'));
}
