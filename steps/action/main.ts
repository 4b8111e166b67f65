/**
 * The GitHub Action (action/action.yml runs the bundle of this file, action/index.mjs): submits a
 * library template's run through the Argo Server the way `forge submit` does — the same name,
 * create-or-attach and watch, from steps/lib/submission — and reports it in the step's outputs
 * and job summary.
 */
import * as core from '@actions/core';
import { ArgoServerClient, connect, finishedPhase, loadToken, type Workflow } from '../lib/argo-server/index.ts';
import { ForgeError, formatDetail, isForgeError } from '../lib/errors.ts';
import { createOrAttach, failedLogs, Progress, submitWorkflow } from '../lib/submission/index.ts';
import { readInputs } from './inputs.ts';

const FIELD: Record<string, string> = { '--template': 'template', '--namespace': 'namespace', '--attempt': 'attempt', '--pr': 'parameters: pull-request' };

/** An error as the step's failure message, naming the action's inputs rather than forge submit's options. */
export function failureMessage(e: unknown): string {
  if (!isForgeError(e)) return (e as Error)?.message ?? String(e);
  const details = e.details.map((d) => ({ ...d, field: d.field?.startsWith('--') ? (FIELD[d.field] ?? `parameters: ${d.field.slice(2)}`) : d.field }));
  let message = [`${e.code}: ${e.message}`, ...details.map((d) => `  ${formatDetail(d)}`)].join('\n');
  if (e.code === 'ARGO_SERVER_UNAUTHORIZED') message = message.replace(/--token-file or ARGO_TOKEN/g, "the action's token input");
  return message.replace(/pass a new attempt/, 'set the attempt input to start another run');
}

/** Appends markdown to the job summary (GITHUB_STEP_SUMMARY); skipped where the runner has none. */
async function summarize(add: (s: typeof core.summary) => typeof core.summary): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await add(core.summary).write();
}

async function waitFor(client: ArgoServerClient, wf: Workflow, namespace: string, timeoutMs: number): Promise<{ last: Workflow; timedOut: boolean }> {
  const name = wf.metadata.name!;
  const progress = new Progress();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let last = wf;
  try {
    for await (const state of client.watch(namespace, name, {
      signal: abort.signal,
      onReconnect: (attempt, delayMs, reason) => core.info(`  (watch stream lost: ${reason}; reconnecting in ${delayMs} ms, attempt ${attempt})`),
    })) {
      last = state;
      for (const line of progress.update(state)) core.info(line);
    }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return { last, timedOut: abort.signal.aborted && !finishedPhase(last) };
}

export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Masked before anything else can print it: the runner replaces it with *** in every log line.
  const rawToken = core.getInput('token');
  if (rawToken) core.setSecret(rawToken);
  try {
    const inputs = readInputs(
      {
        server: core.getInput('server'),
        namespace: core.getInput('namespace'),
        template: core.getInput('template'),
        parameters: core.getMultilineInput('parameters', { trimWhitespace: false }),
        attempt: core.getInput('attempt'),
        wait: core.getInput('wait'),
        timeout: core.getInput('timeout'),
      },
      env,
    );
    const token = await loadToken(undefined, { ARGO_TOKEN: rawToken });
    if (token && token !== rawToken) core.setSecret(token);
    const { namespace } = inputs.submit;
    const wf = submitWorkflow(inputs.submit);
    const conn = connect({ server: inputs.server, token });
    const client = new ArgoServerClient(conn);
    const name = wf.metadata.name!;
    const url = `${conn.base}/workflows/${namespace}/${name}`;
    // The name and link first: a step that fails after this still says where the run is.
    core.setOutput('workflow-name', name);
    core.setOutput('url', url);
    core.info(url);
    const { workflow, attached } = await createOrAttach(client, wf, inputs.submit, core.info);
    const phase = workflow.status?.phase || 'Pending';
    core.info(attached ? `attached to workflow ${namespace}/${name} (created ${workflow.metadata.creationTimestamp ?? 'earlier'}; phase ${phase})` : `created workflow ${namespace}/${name} from template ${inputs.submit.template}`);
    // The URL is the validated server plus DNS labels: nothing in it needs escaping.
    await summarize((s) =>
      s
        .addRaw(`### Argo workflow ${attached ? 'attached' : 'submitted'}\n\n`)
        .addLink(`${namespace}/${name}`, url)
        .addRaw(` — template \`${inputs.submit.template}\`, commit \`${inputs.submit.commit.slice(0, 12)}\`\n\n`),
    );
    if (!inputs.wait) {
      core.setOutput('phase', phase);
      return;
    }
    const { last, timedOut } = await waitFor(client, workflow, namespace, inputs.timeoutMs);
    const end = finishedPhase(last);
    const now = last.status?.phase || 'Pending';
    core.setOutput('phase', now);
    if (timedOut) {
      await summarize((s) => s.addRaw(`Still **${now}** when the action stopped waiting.\n`));
      throw new ForgeError('WAIT_TIMEOUT', `workflow ${namespace}/${name} is still ${now} after the timeout of ${inputs.timeoutMs / 1000}s; it goes on running. Re-running this job attaches to the same run (it is not submitted again): ${url}`);
    }
    if (end !== 'Succeeded') await failedLogs(client, last, namespace, core.info);
    await summarize((s) => s.addRaw(`Finished: **${end ?? now}**${last.status?.message ? ` (${last.status.message})` : ''}\n`));
    core.info(`workflow ${namespace}/${name} ${end ?? 'ended'}${last.status?.message ? `: ${last.status.message}` : ''}`);
    if (end !== 'Succeeded') core.setFailed(`workflow ${namespace}/${name} ${end ?? 'ended'}${last.status?.message ? `: ${last.status.message}` : ''} — ${url}`);
  } catch (e) {
    core.setFailed(failureMessage(e));
  }
}

if (process.env.FORGE_ACTION_MAIN === '1') await run();
