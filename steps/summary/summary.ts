import { z } from 'zod';
import { formatDuration } from '../lib/duration.ts';
import { commitState } from '../lib/github/status.ts';
import { redactUrl } from '../lib/log.ts';

/**
 * The run summary forge-pipeline's exit handler prints: the outcome, how long it took, and each
 * failed task with the message its dispatcher left (`{{workflow.failures}}`), in the words the
 * platform's commit statuses use (reference §2.7).
 */
const failureSchema = z.array(
  z.looseObject({
    displayName: z.string().optional(),
    message: z.string().optional(),
    templateName: z.string().optional(),
    phase: z.string().optional(),
    podName: z.string().optional(),
  }),
);

export interface SummaryInput {
  status: string;
  failures?: string;
  durationSeconds?: number;
  repository?: string;
  commit?: string;
}

export interface Summary {
  status: string;
  state: 'success' | 'failure' | 'error';
  description: string;
  failures: { task: string; message: string }[];
}

/** Argo's workflow status → the commit status state (shared with `forge status`). */
export { commitState };

export function summarize(input: SummaryInput): Summary {
  let failures: Summary['failures'] = [];
  if (input.failures && input.failures !== 'null') {
    let value: unknown;
    try {
      value = JSON.parse(input.failures);
    } catch {
      value = undefined; // a summary never fails on what Argo handed it
    }
    const parsed = failureSchema.safeParse(value);
    if (parsed.success) {
      // Parent nodes repeat their children's failure ("child … failed"): keep the tasks that did the work.
      failures = parsed.data
        .filter((f) => f.podName || !/^child '.*' failed$/.test(f.message ?? ''))
        .map((f) => ({ task: f.displayName ?? f.templateName ?? '?', message: f.message ?? '' }));
    }
  }
  const took = input.durationSeconds !== undefined ? ` in ${formatDuration(input.durationSeconds * 1000)}` : '';
  const state = commitState(input.status);
  const description =
    state === 'success' ? `Pipeline succeeded${took}` : `Pipeline ${input.status.toLowerCase()}${took}${failures[0] ? `: ${failures[0].task}: ${failures[0].message}` : ''}`;
  return { status: input.status, state, description: description.slice(0, 140), failures };
}

export function formatSummary(s: Summary, input: SummaryInput): string {
  const where = input.repository ? `${redactUrl(input.repository)}${input.commit ? `@${input.commit.slice(0, 12)}` : ''}` : '';
  const lines = [`${s.description.split(': ')[0]}${where ? ` — ${where}` : ''}`];
  for (const f of s.failures) lines.push(`  ✗ ${f.task}: ${f.message}`);
  return `${lines.join('\n')}\n`;
}
