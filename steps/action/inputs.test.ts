import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../test/helpers/forge-error.ts';
import { fromGitHub, parseParameters, parseTimeout, readInputs, type RawInputs } from './inputs.ts';

const head = 'c'.repeat(40);
const merge = 'd'.repeat(40);
let dir: string;
let event: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forge-action-inputs-'));
  event = join(dir, 'event.json');
  await writeFile(event, JSON.stringify({ pull_request: { number: 7, head: { sha: head } } }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const ctx = { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: merge };
const raw = (over: Partial<RawInputs> = {}): RawInputs => ({ server: 'https://argo.example.com', namespace: '', template: '', parameters: [], attempt: '', wait: '', timeout: '', ...over });

describe('the action inputs', () => {
  it('reads the repository, commit and ref from the GitHub context', () => {
    expect(fromGitHub({ ...ctx, GITHUB_REF: 'refs/heads/main', GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main' })).toEqual({ repoUrl: 'https://github.com/acme/shop.git', commit: merge, branch: 'main' });
    expect(fromGitHub({ ...ctx, GITHUB_REF: 'refs/tags/v1.2.0', GITHUB_REF_TYPE: 'tag', GITHUB_REF_NAME: 'v1.2.0' })).toMatchObject({ tag: 'v1.2.0' });
    // A pull request builds its head commit, not the merge commit GitHub made.
    expect(fromGitHub({ ...ctx, GITHUB_REF: 'refs/pull/7/merge', GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: '7/merge', GITHUB_EVENT_PATH: event })).toEqual({ repoUrl: 'https://github.com/acme/shop.git', commit: head, pr: '7' });
    expect(fromGitHub({ ...ctx, GITHUB_REF: 'refs/pull/7/merge', GITHUB_EVENT_PATH: join(dir, 'missing.json') })).toMatchObject({ commit: merge, pr: '7' });
  });

  it('parses name=value lines, keeping = and commas in values, refusing duplicates and lines without a name', () => {
    expect(parseParameters(['# comment', '', 'a=b=c', 'list=x,y', 'empty='])).toEqual({ a: 'b=c', list: 'x,y', empty: '' });
    expect(thrown(() => parseParameters(['a=1', 'a=2'])).details[0]).toEqual({ field: 'parameters', message: 'names a twice' });
    const e = thrown(() => parseParameters(['secret-looking-line']));
    expect(e.details[0]?.message).toBe('has a line that is not name=value (line 1; contents not shown)');
  });

  it('takes timeouts in s, m and h within 1s..72h', () => {
    expect(parseTimeout('90')).toBe(90_000);
    expect(parseTimeout('30m')).toBe(1_800_000);
    expect(parseTimeout('6h')).toBe(21_600_000);
    for (const bad of ['0s', '73h', '1d', '-5', 'soon']) expect(thrown(() => parseTimeout(bad)).details[0]?.field).toBe('timeout');
  });

  it('parameters override the event; other names go to the template; defaults apply', () => {
    const env = { ...ctx, GITHUB_REF: 'refs/heads/main', GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main' };
    const i = readInputs(raw({ parameters: [`commit=${head}`, 'tag=v2', 'skip=1'], wait: 'true' }), env);
    expect(i.submit).toMatchObject({ template: 'forge-pipeline', namespace: 'argo', commit: head, tag: 'v2', branch: undefined, attempt: 1, parameters: { skip: '1' } });
    expect(i).toMatchObject({ wait: true, timeoutMs: 6 * 3_600_000 });
    expect(readInputs(raw(), env).submit).toMatchObject({ branch: 'main', commit: merge, parameters: {} });
    expect(thrown(() => readInputs(raw({ server: '' }), env)).details[0]?.field).toBe('server');
    expect(thrown(() => readInputs(raw({ wait: 'yes' }), env)).details[0]?.field).toBe('wait');
    expect(thrown(() => readInputs(raw(), {})).details[0]?.message).toBe('has no repo-url and GITHUB_REPOSITORY is unset');
  });
});
