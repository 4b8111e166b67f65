/**
 * Where the time of a group of Argo pods goes, from the pods' own timestamps: how long each
 * waited to be created, to start (scheduling, sandbox, the init container), ran its main
 * container, and took to be reported done after it — what dominates a phase group on a cluster.
 */
import { kubectl, type E2eEnv } from '../cluster/e2e-env.ts';

interface ContainerStatus {
  name: string;
  state?: { terminated?: { startedAt: string; finishedAt: string } };
}
interface Pod {
  metadata: { name: string; creationTimestamp: string };
  status: { initContainerStatuses?: ContainerStatus[]; containerStatuses?: ContainerStatus[] };
}
interface WorkflowNode {
  displayName: string;
  type: string;
  startedAt: string;
  finishedAt: string;
  id: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const at = (t: string | undefined) => (t ? Date.parse(t) : NaN);

/** One line: medians (seconds) of the pods of the nodes whose display name starts with `prefix`. */
export async function podTimeline(env: E2eEnv, workflow: string, prefix: string): Promise<string> {
  const wf = JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'workflow', workflow, '-o', 'json'])) as { status: { nodes: Record<string, WorkflowNode> } };
  const nodes = Object.values(wf.status.nodes).filter((n) => n.type === 'Pod' && n.displayName.startsWith(prefix));
  const group = Object.values(wf.status.nodes).find((n) => n.displayName === prefix);
  const pods = (JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'pods', '-l', `workflows.argoproj.io/workflow=${workflow}`, '-o', 'json'])) as { items: Pod[] }).items;
  const rows = nodes.flatMap((node) => {
    // Pod names end with the node id's hash (v2 pod names); match on the node id's suffix.
    const pod = pods.find((p) => p.metadata.name.endsWith(node.id.split('-').at(-1)!));
    if (!pod) return [];
    const init = pod.status.initContainerStatuses?.find((c) => c.name === 'init')?.state?.terminated;
    const main = pod.status.containerStatuses?.find((c) => c.name === 'main')?.state?.terminated;
    return [{
      created: at(pod.metadata.creationTimestamp) - at(group?.startedAt ?? node.startedAt),
      toInit: at(init?.startedAt) - at(pod.metadata.creationTimestamp),
      init: at(init?.finishedAt) - at(init?.startedAt),
      toMain: at(main?.startedAt) - at(init?.finishedAt),
      main: at(main?.finishedAt) - at(main?.startedAt),
      reported: at(node.finishedAt) - at(main?.finishedAt),
    }];
  });
  const s = (k: keyof (typeof rows)[number]) => (median(rows.map((r) => r[k])) / 1000).toFixed(1);
  return `${rows.length} pods (medians, s): created ${s('created')} after the group started; to the init container ${s('toInit')} (scheduling, sandbox), init ${s('init')}, to main ${s('toMain')}, main ${s('main')}, main's end to the node's end ${s('reported')}`;
}
