import { describe, expect, it } from 'vitest';
import { thrown } from '../../test/helpers/forge-error.ts';
import { DEFAULT_POOL, DISPATCH_KINDS, taskOf } from './task-args.ts';

// What a dispatcher queues for each kind, from what its template passes, and what it refuses
// before anything reaches a pool.
describe('taskOf', () => {
  it('release and deploy tasks from flags, with `--` task ids no phase task can take', () => {
    expect(taskOf('release-plan', { project: 'api', path: 'services/api', branch: 'main', tag: '', manual: 'false' })).toEqual({
      taskId: 'plan--api', task: { kind: 'release-plan', project: 'api', path: 'services/api', branch: 'main', manual: false },
    });
    expect(taskOf('release', { project: 'api', path: '.', tag: 'api/v1.2.0', manual: 'true' }).task).toEqual({ kind: 'release', project: 'api', path: '.', tag: 'api/v1.2.0', manual: true });
    expect(taskOf('deploy', { project: 'api', environment: 'prod', release: 'main-42', 'deployed-by': 'workflow/forge/x', rollback: 'true' })).toEqual({
      taskId: 'deploy--prod--api', task: { kind: 'deploy', project: 'api', environment: 'prod', release: 'main-42', deployedBy: 'workflow/forge/x', rollback: true },
    });
    expect(taskOf('deploy-plan', { project: 'api', environment: 'dev', release: 'abc1234', 'deployed-by': 'w' }).taskId).toBe('check--dev--api');
  });

  it('an artifact task from the plan item, which may not change its kind', () => {
    const item = { id: 'artifact--api--api-server', project: 'api', path: 'services/api', artifact: 'api-server', branch: 'main', manual: false };
    expect(taskOf('artifact', { task: JSON.stringify(item) })).toEqual({ taskId: item.id, task: { kind: 'artifact', project: 'api', path: 'services/api', artifact: 'api-server', branch: 'main', manual: false } });
    expect(thrown(() => taskOf('artifact', { task: JSON.stringify({ ...item, kind: 'deploy' }) }))).toMatchObject({ code: 'INVALID_ARGS', message: '--task is a deploy task, not artifact' });
    expect(thrown(() => taskOf('artifact', { task: 'not json' })).message).toMatch(/--task must be the JSON of one release plan artifact/);
  });

  it('refuses bad values naming the flag', () => {
    const e = thrown(() => taskOf('deploy', { project: 'api', environment: 'Prod!', release: 'x', 'deployed-by': 'w' }));
    expect(e.details).toEqual([expect.objectContaining({ field: '--environment' })]);
    expect(thrown(() => taskOf('release', { project: 'api', path: '../etc' })).details).toEqual([expect.objectContaining({ field: '--path' })]);
    expect(thrown(() => taskOf('deploy', { project: 'api', environment: 'dev', release: 'x' })).details).toEqual([expect.objectContaining({ field: '--deployed-by' })]);
    expect(thrown(() => taskOf('release-plan', { project: 'api', path: 'a', branch: 'main;rm -rf /' })).details).toEqual([expect.objectContaining({ field: '--branch' })]);
  });

  it('runs each kind on its pool', () => {
    expect(Object.fromEntries(DISPATCH_KINDS.map((k) => [k, DEFAULT_POOL[k]]))).toEqual({
      phase: 'ci', discover: 'discovery', ping: 'ci', 'release-plan': 'release', artifact: 'artifact', release: 'release', 'deploy-plan': 'release', deploy: 'release',
    });
  });
});
