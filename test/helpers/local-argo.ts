import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import { OUTPUTS_DIR } from '../../steps/lib/contract.ts';
import { withKeyedLocks } from '../../steps/lib/keyed-lock.ts';

/**
 * Runs a WorkflowTemplate's DAG on this machine the way Argo would wire it — parameters,
 * `depends`, `{{tasks.*.outputs.parameters.*}}`, input env, secret env, output files with
 * defaults, template mutexes — but each container is the real step tool run as a local process (`bin/forge.mjs`).
 * It proves the template and the tools agree; running on Argo's own controller is
 * test/cluster's job.
 */
export interface LocalRunOptions {
  /** Container path prefix → host directory (ConfigMap and Secret mounts). */
  mounts: Record<string, string>;
  /** `<secret>/<key>` → value, for `valueFrom.secretKeyRef`. */
  secrets: Record<string, string>;
}

export interface LocalNode {
  phase: 'Succeeded' | 'Failed' | 'Omitted';
  outputs: Record<string, string>;
  /** What Argo would show as the node's message (the container's termination message). */
  message: string;
  stderr: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

export async function runLocally(wt: IWorkflowTemplate, params: Record<string, string>, opts: LocalRunOptions): Promise<Record<string, LocalNode>> {
  const templates = new Map((wt.spec.templates ?? []).map((t) => [t.name, t]));
  const workflowParams = Object.fromEntries((wt.spec.arguments?.parameters ?? []).map((p) => [p.name, params[p.name] ?? p.value ?? '']));
  const nodes: Record<string, LocalNode> = {};
  const globals: Record<string, string> = {};
  const sub = (text: string, inputs: Record<string, string> = {}) =>
    text
      .replace(/\{\{workflow\.(status|failures)\}\}/g, (_, n: string) => globals[n] ?? '')
      .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (_, n: string) => workflowParams[n] ?? '')
      .replace(/\{\{workflow\.name\}\}/g, 'local-run')
      .replace(/\{\{workflow\.uid\}\}/g, '00000000-0000-0000-0000-00000000beef')
      .replace(/\{\{tasks\.([\w-]+)\.outputs\.parameters\.([\w-]+)\}\}/g, (_, t: string, o: string) => nodes[t]?.outputs[o] ?? '')
      .replace(/\{\{inputs\.parameters\.([\w-]+)\}\}/g, (_, n: string) => inputs[n] ?? '');
  const remap = (value: string, outputs: string) => {
    let v = value.replace(OUTPUTS_DIR, outputs);
    for (const [from, to] of Object.entries(opts.mounts)) v = v.replace(from, to);
    return v;
  };
  // As Argo does, the workflow's arguments fill the entrypoint template's inputs by name.
  const entry = templates.get(wt.spec.entrypoint!)!;
  await runDag(wt.spec.entrypoint!, Object.fromEntries((entry.inputs?.parameters ?? []).map((p) => [p.name, workflowParams[p.name] ?? p.default ?? ''])));
  if (wt.spec.onExit) {
    // What Argo gives an exit handler: the run's status and its failed nodes with their messages.
    const failed = Object.entries(nodes).filter(([, n]) => n.phase === 'Failed');
    globals.status = failed.length > 0 ? 'Failed' : 'Succeeded';
    // As Argo v4 does: the parent DAG node is in the list too, node messages carry Argo's
    // `<container>: Error (exit code N): ` prefix, and the whole list arrives Go-quoted (JSON inside a string).
    const list = [
      { displayName: wt.metadata.name ?? 'workflow', templateName: wt.spec.entrypoint, message: '', phase: 'Failed' },
      ...failed.map(([name, n]) => ({ displayName: name, templateName: name, message: `main: Error (exit code 1): ${n.message}`, phase: n.phase })),
    ];
    globals.failures = JSON.stringify(JSON.stringify(list));
    await runDag(wt.spec.onExit, {});
  }
  return nodes;

  async function runDag(name: string, dagInputs: Record<string, string>): Promise<void> {
    const tasks = templates.get(name)!.dag!.tasks!;
    const done = new Set<string>();
    while (done.size < tasks.length) {
      const ready = tasks.filter((t) => !done.has(t.name) && (t.depends ?? '').split('&&').map((d) => d.trim()).filter(Boolean).every((d) => done.has(d)));
      await Promise.all(
        ready.map(async (task) => {
          const deps = (task.depends ?? '').split('&&').map((d) => d.trim()).filter(Boolean);
          const template = templates.get(task.template!)!;
          if (deps.some((d) => nodes[d]?.phase !== 'Succeeded') || (task.when && !evaluateWhen(sub(task.when, dagInputs)))) {
            nodes[task.name] = { phase: 'Omitted', outputs: {}, message: 'omitted: a dependency did not succeed or its condition is false', stderr: '' };
            done.add(task.name);
            return;
          }
          const inputs = Object.fromEntries(
            (template.inputs?.parameters ?? []).map((p) => [p.name, sub(task.arguments?.parameters?.find((a) => a.name === p.name)?.value ?? p.default ?? '', dagInputs)]),
          );
          const outputs = await mkdtemp(join(tmpdir(), `forge-local-${task.name}-`));
          const termination = join(outputs, 'termination-log');
          const env: Record<string, string> = { FORGE_TERMINATION_LOG: termination, ARGO_NODE_ID: `local-${task.name}`, PATH: process.env.PATH ?? '' };
          for (const e of template.container!.env ?? []) {
            if (e.valueFrom?.secretKeyRef) env[e.name] = opts.secrets[`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`] ?? '';
            else env[e.name] = remap(sub(e.value ?? '', inputs), outputs);
          }
          env.HOME = process.env.HOME ?? '/tmp';
          const [, ...args] = template.container!.command!;
          // Argo's mutexes span the namespace; here they span every run in this process.
          const locks = (template.synchronization?.mutexes ?? []).map((m) => `mutex/${sub(m.name ?? '', inputs)}`);
          const result = await withKeyedLocks(locks, () => execa(join(root, 'bin/forge.mjs'), [...args, ...(template.container!.args ?? [])], { env, extendEnv: false, reject: false }));
          const values: Record<string, string> = {};
          for (const o of template.outputs?.parameters ?? []) {
            values[o.name] = await readFile(remap(o.valueFrom!.path!, outputs), 'utf8').catch(() => o.valueFrom?.default ?? '');
          }
          nodes[task.name] = {
            phase: result.exitCode === 0 ? 'Succeeded' : 'Failed',
            outputs: values,
            message: await readFile(termination, 'utf8').catch(() => (result.exitCode === 0 ? '' : `Error (exit code ${result.exitCode})`)),
            stderr: result.stderr,
          };
          done.add(task.name);
        }),
      );
    }
  }
}

/** The `when` forms the library uses: `A == B` and `A != B` after substitution. */
function evaluateWhen(expression: string): boolean {
  const m = /^\s*(.*?)\s*(==|!=)\s*(.*?)\s*$/.exec(expression);
  if (!m) throw new Error(`local runner: unsupported when expression ${expression}`);
  return m[2] === '==' ? m[1] === m[3] : m[1] !== m[3];
}
