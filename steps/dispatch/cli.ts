import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { reportProgress, writeOutput } from '../lib/argo-io.ts';
import { optionsOf, parseToolArgs, runMain } from '../lib/cli.ts';
import { envValue, TERMINATION_LOG } from '../lib/contract.ts';
import { parseDuration } from '../lib/duration.ts';
import { ForgeError } from '../lib/errors.ts';
import { createLogger, redactUrl } from '../lib/log.ts';
import { connectNats, NATS_USAGE, natsOptionsSchema, natsSettings } from '../lib/pool/connect.ts';
import type { LogLine } from '../lib/pool/job.ts';
import { POOL_NAMES, poolSpec } from '../lib/pool/pools.ts';
import { dispatch } from './dispatch.ts';
import { DEFAULT_POOL, DISPATCH_KINDS, releaseArgsSchema, taskOf } from './task-args.ts';

export const usage = `Usage: forge dispatch KIND [options]

Runs one Argo task on a hot worker pool: queues the job (once: a retried or restarted
dispatcher attaches to it), prints its log as it arrives, reports N/M progress, waits for the
result, writes its output files and exits with the job's status. SIGTERM cancels the job.

  phase      one (phase, project) task of discovery's slot lists: --task '{"id":…,"phase":…,"project":…,"path":…,"timeout":…}'
  discover   discovery of the commit, on the discovery pool (--branch, --tag, --paths, --slots)
  ping       a health check: a worker of --pool answers at once (no checkout; --repo-url and --commit still name the run)
  release-plan, artifact, release    one project's release (forge-release): --project, --path, --branch, --tag,
             --manual; artifact: --task (an item of release-plan's artifact list)
  deploy-plan, deploy                a release to an environment (forge-deploy): --project, --environment,
             --release, --deployed-by, --rollback

Options (each may also come from FORGE_<OPTION>):
  --kind KIND         the kind, instead of the first argument (FORGE_KIND, as templates pass it)
  --pool NAME         ${POOL_NAMES.join(' | ')} (default: the kind's pool)
  --run-id ID         the run: the workflow's uid ({{workflow.uid}})
  --repo-url URL      git URL of the repository
  --commit SHA        40-hex commit
  --task JSON         the task (phase)
  --timeout DURATION  how long to wait for the job (default: the task's timeout, else the pool's)
  --branch, --tag, --paths, --slots   as forge discover (discover)
  --outputs-dir DIR   write the job's output files here
${NATS_USAGE}`;

const schema = z.object({
  kind: z.enum(DISPATCH_KINDS).optional(),
  pool: z.enum(POOL_NAMES).optional(),
  'run-id': z.string().min(1, 'is required (the workflow uid)'),
  'repo-url': z.string().min(1, 'is required'),
  commit: z.string().regex(/^[0-9a-f]{40}$/, 'must be a full 40-character commit SHA'),
  task: z.string().optional(),
  timeout: z.string().optional(),
  branch: z.string().optional(),
  tag: z.string().optional(),
  paths: z.array(z.string()).optional(),
  slots: z.coerce.number().int().min(1).max(50).optional(),
  ...releaseArgsSchema,
  'outputs-dir': z.string().optional(),
  ...natsOptionsSchema,
  help: z.boolean().optional(),
});

/** Empty strings are how Argo passes "not set". */
const orUndefined = (s: string | undefined) => (s ? s : undefined);

const EXIT: Record<string, number> = { succeeded: 0, failed: 1, error: 1, 'timed-out': 124, cancelled: 130 };

export async function main(argv: string[]): Promise<void> {
  const log = createLogger('dispatch');
  await runMain(log, async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(usage);
      return;
    }
    const { values: v, positionals } = parseToolArgs(argv, optionsOf(schema.shape, { help: 'h' }), schema);
    const kind = z.enum(DISPATCH_KINDS, { error: () => `expected one of ${DISPATCH_KINDS.join(', ')}` }).parse(positionals[0] ?? v.kind ?? 'phase');
    const { task, taskId, timeout } = taskOf(kind, v);
    const pool = poolSpec(v.pool ?? DEFAULT_POOL[kind]);
    const wanted = orUndefined(v.timeout) ?? timeout;
    const timeoutMs = wanted ? parseDuration(wanted) : pool.defaultTimeoutMs;
    if (!timeoutMs) throw new ForgeError('INVALID_ARGS', `--timeout "${wanted}" is not a duration such as 30m or 1h30m`);

    const stop = new AbortController();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort());
    const nc = await connectNats(natsSettings(v, `forge-dispatch-${taskId}`));
    try {
      const width = 12;
      const outcome = await dispatch({
        nc, pool, runId: v['run-id'], taskId, repository: v['repo-url'], commit: v.commit, task, timeoutMs, signal: stop.signal, workflowName: orUndefined(process.env.FORGE_WORKFLOW_NAME),
        onLine: (l: LogLine) => process.stdout.write(`${(l.stream === 'forge' ? 'forge' : l.step ?? '').padEnd(width)} | ${l.line}\n`),
        onNote: (text) => process.stdout.write(`${'dispatch'.padEnd(width)} | ${text}\n`),
        onProgress: (done, total) => void reportProgress(done, total),
      });
      const { result } = outcome;
      const dir = orUndefined(v['outputs-dir']);
      if (dir) await Promise.all(Object.entries(result.outputs).map(([file, content]) => writeOutput(join(dir, file), content)));
      process.stdout.write(`${'dispatch'.padEnd(width)} | ${result.status}: ${result.message} (worker ${result.worker}, attempt ${result.attempt}, ${redactUrl(v['repo-url'])}@${v.commit.slice(0, 12)})\n`);
      if (result.status !== 'succeeded') {
        // Kubernetes shows this as the node's message in the Argo UI.
        await writeFile(envValue('termination-log') ?? TERMINATION_LOG, `${result.status}: ${result.message}`.slice(0, 4000)).catch(() => undefined);
        process.stderr.write(`error: ${result.status}: ${result.message}\n`);
        process.exitCode = result.status === 'failed' ? Math.min(Math.max(result.exitCode, 1), 123) : EXIT[result.status]!;
      }
    } finally {
      await nc.drain().catch(() => nc.close());
    }
  });
}
