import { type ArgoServerClient, type Workflow } from '../argo-server/index.ts';
import { ForgeError, isForgeError } from '../errors.ts';
import { failedPods } from './progress.ts';
import type { SubmitInput } from './workflow.ts';

/** Creates tried before giving up on an unreachable or failing server (0.5 + 1 + 2 + 4 s of waits). */
export const CREATE_ATTEMPTS = 5;

/**
 * Creates the workflow, or finds the one a previous submit of the same inputs created (`forge
 * submit` and the GitHub Action). Retried on network errors and 5xx: safe, because the name is
 * fixed (a create that went through before its answer was lost comes back as 409 and attaches).
 * A run of that name submitted with other inputs is refused, never replaced or joined.
 */
export async function createOrAttach(
  client: ArgoServerClient,
  wf: Workflow,
  input: SubmitInput,
  out: (line: string) => void,
): Promise<{ workflow: Workflow; attached: boolean }> {
  const { namespace } = input;
  const name = wf.metadata.name!;
  for (let attempt = 1; ; attempt++) {
    try {
      return { workflow: await client.create(namespace, wf), attached: false };
    } catch (e) {
      if (isForgeError(e) && e.code === 'ARGO_SERVER_CONFLICT') break;
      const transient = isForgeError(e) && (e.code === 'ARGO_SERVER_UNREACHABLE' || (e.code === 'ARGO_SERVER_FAILED' && /HTTP 5\d\d/.test(e.message)));
      if (!transient || attempt >= CREATE_ATTEMPTS) throw e;
      const delay = 500 * 2 ** (attempt - 1);
      const m = /HTTP \d{3}|\(([A-Z_]+)\)/.exec(e.message);
      out(`  (create failed: ${m?.[1] ?? m?.[0] ?? e.code}; retrying in ${delay} ms, attempt ${attempt + 1} of ${CREATE_ATTEMPTS})`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  const existing = await client.get(namespace, name);
  const has = Object.fromEntries((existing.spec.arguments?.parameters ?? []).map((p) => [p.name, p.value ?? '']));
  const want = Object.fromEntries((wf.spec.arguments?.parameters ?? []).map((p) => [p.name, p.value ?? '']));
  // The ref is not compared: the same commit pushed to a branch and then tagged is the same run.
  const differs = Object.keys(want).filter((k) => !['branch', 'tag', 'pull-request'].includes(k) && has[k] !== want[k]);
  if (differs.length || existing.spec.workflowTemplateRef?.name !== input.template) {
    const what = differs.length ? `parameters ${differs.join(', ')} differ` : `it runs template ${existing.spec.workflowTemplateRef?.name ?? '(none)'}`;
    throw new ForgeError('ARGO_SERVER_CONFLICT', `workflow ${namespace}/${name} exists but was not submitted for ${input.template} at ${input.repoUrl} ${input.commit} with these parameters (${what}): pass a new attempt`);
  }
  return { workflow: existing, attached: true };
}

/** Up to five failed tasks' last log lines, as lines to print. */
export async function failedLogs(client: ArgoServerClient, wf: Workflow, namespace: string, out: (line: string) => void): Promise<void> {
  for (const node of failedPods(wf).slice(0, 5)) {
    const name = node.displayName ?? node.name;
    out(`--- logs of failed task ${name} (${node.message ?? node.phase}) ---`);
    try {
      const lines = await client.logs(namespace, wf.metadata.name!, { podName: node.id }, 100);
      for (const l of lines) out(`  ${l.content ?? ''}`);
      if (lines.length === 0) out('  (no log lines)');
    } catch (e) {
      out(`  (logs unavailable: ${isForgeError(e) ? e.message : (e as Error).message})`);
    }
  }
}
