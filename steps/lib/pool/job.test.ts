import { describe, expect, test } from 'vitest';
import { jobId, jobSchema, runIdSchema, taskIdSchema, taskSchema } from './job.ts';

// The job payload's identity rules: ids are NATS subject tokens, paths stay inside the repository.
const COMMIT = 'ab'.repeat(20);
const base = {
  apiVersion: 'forge.dev/v1alpha1',
  kind: 'Job',
  id: 'wf-7f3a.test-api',
  runId: 'wf-7f3a',
  taskId: 'test-api',
  pool: 'ci',
  repository: 'https://git.example/org/repo.git',
  commit: COMMIT,
  timeoutMs: 600_000,
  task: { kind: 'phase', phase: 'test', project: 'api', path: 'services/api' },
  createdAt: '2024-01-01T00:00:00.000Z',
};

describe('jobId', () => {
  test('is <runId>.<taskId>, the same every time for the same task', () => {
    expect(jobId('wf-7f3a', 'test-api')).toBe('wf-7f3a.test-api');
    expect(jobId('wf-7f3a', 'test-api')).toBe(jobId('wf-7f3a', 'test-api'));
    expect(jobId('0b6c1e2d-4f5a-4b7c-9d8e-1f2a3b4c5d6e', 'lint-web')).toBe('0b6c1e2d-4f5a-4b7c-9d8e-1f2a3b4c5d6e.lint-web');
    expect(jobId('A_b-1', 'x')).toBe('A_b-1.x');
    expect(jobId('wf-1', 'build-api')).not.toBe(jobId('wf-2', 'build-api'));
  });

  test.each(['wf.1', 'wf*', 'wf>', '>', '*', 'wf 1', ' wf', 'wf\t1', '', '-wf', '_wf', 'wf/1', 'a'.repeat(65)])('refuses the run id %j', (runId) => {
    expect(() => jobId(runId, 'test-api')).toThrow(/must be 1-64 letters, digits, - or _/);
    expect(runIdSchema.safeParse(runId).success).toBe(false);
  });

  test('accepts a 64-character run id', () => {
    expect(jobId('a'.repeat(64), 't')).toBe(`${'a'.repeat(64)}.t`);
  });

  test.each(['test.api', 'test*', 'test>', 'test api', 'Test-api', 'test_api', '-test', 'test-', '', 'a'.repeat(64)])('refuses the task id %j', (taskId) => {
    expect(() => jobId('wf-1', taskId)).toThrow(/must be lower-case kebab-case, at most 63 characters/);
    expect(taskIdSchema.safeParse(taskId).success).toBe(false);
  });

  test('accepts a 63-character task id', () => {
    expect(taskIdSchema.safeParse('a'.repeat(63)).success).toBe(true);
  });
});

describe('phase task path', () => {
  const path = (p: string) => taskSchema.safeParse({ kind: 'phase', phase: 'test', project: 'api', path: p });

  test.each(['.', 'services/api', 'a', 'a/b/c', 'dir.with.dots/x', '..a/b', 'a../b'])('accepts %j', (p) => {
    expect(path(p).success).toBe(true);
  });

  test.each(['..', '../x', 'a/../../b', 'a/..', '/etc', '/', './a', 'a/./b', 'a//b', 'a/', '', 'a'.repeat(1025)])('refuses %j', (p) => {
    const r = path(p);
    expect(r.success).toBe(false);
  });

  test('the refusal says why', () => {
    expect(path('../outside').error?.issues[0]?.message).toBe('must be a relative path inside the repository');
  });
});

describe('jobSchema', () => {
  test('a consistent job parses', () => {
    expect(jobSchema.parse(base)).toEqual(base);
  });

  test.each([
    ['another run', { id: 'wf-other.test-api' }],
    ['another task', { id: 'wf-7f3a.lint-api' }],
    ['swapped parts', { id: 'test-api.wf-7f3a' }],
    ['no separator', { id: 'wf-7f3atest-api' }],
    ['runId changed', { runId: 'wf-8000' }],
    ['taskId changed', { taskId: 'lint-api' }],
  ])('an id that is not <runId>.<taskId> is refused (%s)', (_why, change) => {
    const r = jobSchema.safeParse({ ...base, ...change });
    expect(r.success).toBe(false);
    expect(r.error?.issues).toContainEqual(expect.objectContaining({ path: ['id'], message: 'id must be <runId>.<taskId>' }));
  });

  test.each([
    ['a bad run id', { runId: 'wf.7f3a', id: 'wf.7f3a.test-api' }],
    ['a bad task id', { taskId: 'test.api', id: 'wf-7f3a.test.api' }],
    ['a short commit', { commit: 'abcdef1' }],
    ['an upper-case commit', { commit: 'AB'.repeat(20) }],
    ['an unknown pool', { pool: 'gpu' }],
    ['a timeout under a second', { timeoutMs: 999 }],
    ['a timeout over a day', { timeoutMs: 24 * 3600_000 + 1 }],
    ['an escaping path', { task: { ...base.task, path: '../other' } }],
    ['an absolute path', { task: { ...base.task, path: '/srv' } }],
    ['an unknown task kind', { task: { kind: 'deploy' } }],
    ['another apiVersion', { apiVersion: 'forge.dev/v1' }],
  ])('refuses %s', (_why, change) => {
    expect(jobSchema.safeParse({ ...base, ...change }).success).toBe(false);
  });

  test('a discover task needs no path', () => {
    expect(jobSchema.safeParse({ ...base, id: 'wf-7f3a.discover', taskId: 'discover', pool: 'discovery', task: { kind: 'discover', branch: 'main', slots: 4 } }).success).toBe(true);
  });
});
