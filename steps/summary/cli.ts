import { z } from 'zod';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { formatSummary, summarize } from './summary.ts';

const usage = `Usage: forge summary --status STATUS [--failures JSON] [--duration SECONDS]

Prints the summary of a pipeline run (forge-pipeline's exit handler): outcome, duration and
each failed task with its message. Always exits 0: a summary never changes a run's outcome.

Options (each may also come from FORGE_<OPTION>):
  --status STATUS      Succeeded, Failed or Error ({{workflow.status}})
  --failures JSON      failed nodes ({{workflow.failures}})
  --duration SECONDS   run duration ({{workflow.duration}})
  --repo-url URL, --commit SHA   shown in the summary
`;

const schema = z.object({
  status: z.string().min(1),
  failures: z.string().optional(),
  duration: z.coerce.number().min(0).optional(),
  'repo-url': z.string().optional(),
  commit: z.string().optional(),
  ...commonSchema,
});

export async function main(argv: string[]): Promise<void> {
  await stepMain(argv, {
    tool: 'summary',
    usage,
    schema,
    async run(v) {
      const input = { status: v.status, failures: v.failures, durationSeconds: v.duration, repository: v['repo-url'], commit: v.commit };
      const summary = summarize(input);
      return { result: summary, text: formatSummary(summary, input) };
    },
  });
}
