import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/forge-error.ts';
import { repoSlug, submitWorkflow, workflowName, type SubmitInput } from './workflow.ts';

const commit = '0123456789abcdef0123456789abcdef01234567';
const input: SubmitInput = { template: 'forge-pipeline', repoUrl: 'https://github.com/acme/shop.git', commit, attempt: 1, namespace: 'argo' };

describe('the submitted workflow', () => {
  it('has a deterministic DNS-label name of at most 63 characters from repository, commit and attempt', () => {
    const name = workflowName(input.repoUrl, commit, 1);
    expect(name).toMatch(/^shop-0123456789ab-[0-9a-f]{6}-1$/);
    expect(workflowName(input.repoUrl, commit, 1)).toBe(name);
    expect(workflowName(input.repoUrl, commit, 2)).not.toBe(name);
    expect(workflowName('https://github.com/other/shop.git', commit, 1)).not.toBe(name);
    const long = workflowName(`https://example.com/${'Very_Long.Name-'.repeat(10)}.git`, commit, 9999);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(repoSlug('git@github.com:acme/Shop_API.git')).toBe('shop-api');
  });

  it('references the template and carries the inputs as parameters, labels and annotations', () => {
    const wf = submitWorkflow({ ...input, pr: '42' });
    expect(wf.spec).toEqual({
      workflowTemplateRef: { name: 'forge-pipeline' },
      arguments: { parameters: [
        { name: 'repo-url', value: input.repoUrl }, { name: 'commit', value: commit }, { name: 'branch', value: '' }, { name: 'tag', value: '' }, { name: 'pull-request', value: '42' },
      ] },
    });
    expect(wf.metadata.labels?.['forge.dev/pull-request']).toBe('42');
    expect(wf.metadata.annotations?.['workflows.argoproj.io/title']).toBe('shop · pull request #42 · 0123456789ab');
  });

  it.each([
    [{ commit: 'abc123' }, '--commit'],
    [{ commit: commit.toUpperCase() }, '--commit'],
    [{ repoUrl: 'https://user:pw@github.com/acme/shop.git' }, '--repo-url'],
    [{ repoUrl: 'https://github.com/acme/shop.git\nx' }, '--repo-url'],
    [{ repoUrl: 'file:///etc/passwd' }, '--repo-url'],
    [{ branch: 'a b' }, '--branch'],
    [{ branch: '../x' }, '--branch'],
    [{ branch: 'main', tag: 'v1' }, '--branch'],
    [{ tag: 'v1~1' }, '--tag'],
    [{ pr: '1; rm' }, '--pr'],
    [{ attempt: 0 }, '--attempt'],
    [{ template: 'Forge Pipeline' }, '--template'],
    [{ namespace: 'argo/x' }, '--namespace'],
    [{ parameters: { 'bad name': 'x' } }, 'parameters.bad name'],
    [{ parameters: { commit: 'x' } }, 'parameters.commit'],
    [{ parameters: { big: 'x'.repeat(8 * 1024 + 1) } }, 'parameters.big'],
  ] as [Partial<SubmitInput>, string][])('refuses hostile input %o naming %s', (bad, field) => {
    const e = thrown(() => submitWorkflow({ ...input, ...bad }));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.details[0]?.field).toBe(field);
  });

  it('passes extra template parameters after its own, values as given', () => {
    const wf = submitWorkflow({ ...input, parameters: { 'skip-tests': 'a,b=c', 'x.y_z': '' } });
    expect(wf.spec.arguments?.parameters?.slice(5)).toEqual([{ name: 'skip-tests', value: 'a,b=c' }, { name: 'x.y_z', value: '' }]);
  });
});
