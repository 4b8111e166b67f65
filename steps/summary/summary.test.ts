import { describe, expect, it } from 'vitest';
import { commitState, formatSummary, summarize } from './summary.ts';

describe('pipeline summary', () => {
  it('maps Argo statuses to commit status states (anything unknown is an error)', () => {
    expect(['Succeeded', 'Failed', 'Error', 'Running', ''].map(commitState)).toEqual(['success', 'failure', 'error', 'error', 'error']);
  });

  it('names the failed tasks and leaves out parents that only repeat a child', () => {
    const failures = JSON.stringify([
      { displayName: 'group-2', message: "child 'forge-pipeline-x-123' failed", templateName: 'pipeline', phase: 'Failed' },
      { displayName: 'group-2(0:test-web)', message: 'failed: step unit of web (test) exited with code 3', templateName: 'phase', phase: 'Failed', podName: 'p-1' },
    ]);
    const s = summarize({ status: 'Failed', failures, durationSeconds: 125 });
    expect(s.state).toBe('failure');
    expect(s.failures).toEqual([{ task: 'group-2(0:test-web)', message: 'failed: step unit of web (test) exited with code 3' }]);
    expect(s.description).toBe('Pipeline failed in 2m05s: group-2(0:test-web): failed: step unit of web (test) exited with code 3');
    expect(formatSummary(s, { status: 'Failed', repository: 'https://u:p@git.example/r.git', commit: 'a'.repeat(40) })).toBe(
      'Pipeline failed in 2m05s — https://git.example/r.git@aaaaaaaaaaaa\n  ✗ group-2(0:test-web): failed: step unit of web (test) exited with code 3\n',
    );
  });

  it('says how long a green run took; unparseable failures are ignored, not fatal', () => {
    expect(summarize({ status: 'Succeeded', failures: 'null', durationSeconds: 42 }).description).toBe('Pipeline succeeded in 42.0 s');
    expect(summarize({ status: 'Error', failures: '{"not":"a list"}' }).failures).toEqual([]);
    expect(summarize({ status: 'Error', failures: '[{' }).failures).toEqual([]);
  });
});
