import { join } from 'node:path';
import { z } from 'zod';
import { reportProgress, writeOutput } from '../lib/argo-io.ts';
import { CUE_LIMITS } from '../lib/cue.ts';
import { optionsOf, parseToolArgs, runMain } from '../lib/cli.ts';
import { createLogger } from '../lib/log.ts';
import type { DiscoveryOutput } from './contract.ts';
import { DEFAULT_SLOTS, discover } from './discover.ts';
import { formatTable } from './format.ts';
import { argoOutputs } from './outputs.ts';

export const usage = `Usage: forge discover [SOURCE] [options]

Finds the projects of a forge repository, validates their CUE configuration and prints the
phase groups, tasks and release triggers of one commit.

SOURCE is a local path inside a git work tree (default ".") or a git URL.

Options (each may also come from FORGE_<OPTION>, e.g. FORGE_COMMIT):
  --repo-url URL      git URL to fetch (instead of SOURCE)
  --commit SHA        40-hex commit to read (default: the work tree / remote HEAD)
  --branch NAME       branch the commit is on (evaluates branch release triggers)
  --tag NAME          tag being built (evaluates tag release triggers)
  --paths GLOB        only projects under these directories (repeatable, comma-separated in env)
  --slots N           phase-group slots of the pipeline (default ${DEFAULT_SLOTS})
  --cue-memory-mib N  memory limit of the cue process in MiB (default ${CUE_LIMITS.memoryBytes / 1024 / 1024};
                      forge-discovery sets half the step container's memory limit)
  --cue-timeout-seconds N  time limit of one cue run (default ${CUE_LIMITS.timeoutMs / 1000})
  --output FORMAT     table (default) or json
  --outputs-dir DIR   also write Argo output files to DIR (discovery.json, group-N, ...)
`;

const schema = z.object({
  'repo-url': z.string().min(1).optional(),
  commit: z.string().optional(),
  branch: z.string().optional(),
  tag: z.string().optional(),
  paths: z.array(z.string()).optional(),
  slots: z.coerce.number().int().min(1).max(20).default(DEFAULT_SLOTS),
  'cue-memory-mib': z.coerce.number().int().min(128).max(65_536).optional(),
  'cue-timeout-seconds': z.coerce.number().int().min(1).max(3600).optional(),
  output: z.enum(['table', 'json']).default('table'),
  'outputs-dir': z.string().optional(),
  help: z.boolean().optional(),
});

/** The option table, from the schema (each option declared once). */
export const options = optionsOf(schema.shape, { help: 'h' });

/** Empty strings are how Argo passes "not set" for optional parameters. */
const orUndefined = (s: string | undefined) => (s ? s : undefined);

export async function main(argv: string[]): Promise<void> {
  const log = createLogger('discover');
  await runMain(log, async () => {
    const { values, positionals } = parseToolArgs(argv, options, schema);
    if (values.help) {
      process.stdout.write(usage);
      return;
    }
    const source = orUndefined(values['repo-url']) ?? positionals[0] ?? '.';
    const result = await discover({
      source,
      commit: orUndefined(values.commit),
      branch: orUndefined(values.branch),
      tag: orUndefined(values.tag),
      paths: values.paths?.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean),
      slots: values.slots,
      cueLimits: {
        ...(values['cue-memory-mib'] ? { memoryBytes: values['cue-memory-mib'] * 1024 * 1024 } : {}),
        ...(values['cue-timeout-seconds'] ? { timeoutMs: values['cue-timeout-seconds'] * 1000 } : {}),
      },
      onProgress: (done, total, what) => {
        log.info({ done, total }, what);
        void reportProgress(done, total);
      },
    });
    log.info({ timings: result.timings, projects: result.output.projects.length, bytes: Buffer.byteLength(result.json) }, 'discovery done');
    if (values['outputs-dir']) await writeArgoOutputs(values['outputs-dir'], result.output, result.json);
    process.stdout.write(values.output === 'json' ? result.json : formatTable(result.output));
  });
}

/** Writes forge-discovery's output files (steps/discover/outputs.ts) under `dir`. */
export async function writeArgoOutputs(dir: string, out: DiscoveryOutput, json: string): Promise<void> {
  await Promise.all(Object.entries(argoOutputs(out, json)).map(([file, content]) => writeOutput(join(dir, file), content)));
}
