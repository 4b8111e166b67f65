import { z } from 'zod';
import { ArgoServerClient, connect, finishedPhase, loadToken, type Workflow } from '../lib/argo-server/index.ts';
import { optionsOf, parseToolArgs, runMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { createOrAttach, failedLogs, Progress, submitWorkflow, type SubmitInput } from '../lib/submission/index.ts';
import { setPendingStatus } from './commit-status.ts';

const usage = `Usage: forge submit --repo-url URL --commit SHA [--branch B | --tag T | --pr N] [--wait]
                    [--template forge-pipeline] [--attempt N] [--server URL] [--namespace NS] [--token-file F]
                    [--github-token-file F] [--github-api-url URL]

Starts a run of a library WorkflowTemplate through the Argo Server REST API: creates a Workflow
that references the template (never the /submit endpoint), named from the repository, the commit
and the attempt, so submitting the same commit again attaches to the run already there. Prints the
Argo UI link first. Without --wait it returns at once; with --wait it prints node progress and the
logs of failing tasks, reconnects when the stream drops, and exits 0 (Succeeded), 1 (Failed) or
2 (Error). With a GitHub token it also sets the commit status ci/catalyst-forge to pending, linking
to the run (a status GitHub refuses is a warning: the run goes on).

Options (each may also come from FORGE_<OPTION>):
  --repo-url URL       the repository (https://, ssh:// or git@host:; no credentials)
  --commit SHA         the full commit SHA (40 or 64 hex characters)
  --branch B | --tag T | --pr N   what the commit was built for (at most one)
  --template NAME      the WorkflowTemplate (default forge-pipeline)
  --attempt N          a new run of the same commit (default 1)
  --wait               follow the run to its end
  --server URL         the Argo Server (default $ARGO_SERVER; http://localhost:2746 if unset)
  --namespace NS       the namespace of the templates and runs (default $ARGO_NAMESPACE or argo)
  --token-file F       file holding the bearer token (default: $ARGO_TOKEN; never printed)
  --github-token-file F  a GitHub token that may write commit statuses (default: $GITHUB_TOKEN;
                       neither set: no commit status)
  --github-api-url URL GitHub's REST API (default https://api.github.com)
`;

const schema = z.object({
  'repo-url': z.string().optional(),
  commit: z.string().optional(),
  branch: z.string().optional(),
  tag: z.string().optional(),
  pr: z.string().optional(),
  template: z.string().default('forge-pipeline'),
  attempt: z.coerce.number().default(1),
  wait: z.boolean().optional(),
  server: z.string().optional(),
  namespace: z.string().optional(),
  'token-file': z.string().optional(),
  'github-token-file': z.string().optional(),
  'github-api-url': z.string().default('https://api.github.com'),
  help: z.boolean().optional(),
});

const out = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`${line}\n`);

/** ARGO_SERVER as the argo CLI takes it: `host:port`, https unless ARGO_SECURE=false. */
function defaultServer(env: NodeJS.ProcessEnv): string {
  const s = env.ARGO_SERVER;
  if (!s) return 'http://localhost:2746';
  return /^https?:\/\//.test(s) ? s : `${env.ARGO_SECURE === 'false' ? 'http' : 'https'}://${s}`;
}

export async function main(argv: string[]): Promise<void> {
  const log = createLogger('submit');
  await runMain(log, async () => {
    const { values: v } = parseToolArgs(argv, optionsOf(schema.shape), schema);
    if (v.help) {
      process.stdout.write(usage);
      return;
    }
    const missing = (['repo-url', 'commit'] as const).filter((k) => !v[k]);
    if (missing.length) throw new ForgeError('INVALID_ARGS', 'invalid arguments', missing.map((k) => ({ field: `--${k}`, message: 'is required' })));
    const input: SubmitInput = {
      template: v.template,
      repoUrl: v['repo-url']!,
      commit: v.commit!,
      branch: v.branch,
      tag: v.tag,
      pr: v.pr,
      attempt: v.attempt,
      namespace: v.namespace ?? process.env.ARGO_NAMESPACE ?? 'argo',
    };
    const wf = submitWorkflow(input);
    const token = await loadToken(v['token-file']);
    const conn = connect({ server: v.server ?? defaultServer(process.env), token });
    const client = new ArgoServerClient(conn);
    const name = wf.metadata.name!;
    // The link first: a CI log shows where to look even if what follows fails.
    const link = `${conn.base}/workflows/${input.namespace}/${name}`;
    out(link);
    const { workflow, attached } = await createOrAttach(client, wf, input, out);
    out(attached ? `attached to workflow ${input.namespace}/${name} (created ${workflow.metadata.creationTimestamp ?? 'earlier'}; phase ${workflow.status?.phase ?? 'Pending'})` : `created workflow ${input.namespace}/${name} from template ${input.template}`);
    // A finished run keeps its final status: pending only for a run that is new or still going.
    if (!attached || !finishedPhase(workflow)) {
      const status = await setPendingStatus({ repoUrl: input.repoUrl, commit: input.commit, targetUrl: link, apiUrl: v['github-api-url'], tokenFile: v['github-token-file'] });
      if (status) (status.ok ? out : warn)(status.line);
    }
    if (!v.wait) return;

    const progress = new Progress();
    let last: Workflow = workflow;
    for await (const state of client.watch(input.namespace, name, {
      onReconnect: (attempt, delayMs, reason) => out(`  (watch stream lost: ${reason}; reconnecting in ${delayMs} ms, attempt ${attempt})`),
    })) {
      last = state;
      for (const line of progress.update(state)) out(line);
    }
    const phase = finishedPhase(last);
    if (phase !== 'Succeeded') await failedLogs(client, last, input.namespace, out);
    out(`workflow ${input.namespace}/${name} ${phase ?? 'ended'}${last.status?.message ? `: ${last.status.message}` : ''}`);
    process.exitCode = phase === 'Succeeded' ? 0 : phase === 'Failed' ? 1 : 2;
  });
}
