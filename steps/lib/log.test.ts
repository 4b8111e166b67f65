import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsIn } from './log.ts';

describe('URLs as they may be printed', () => {
  it.each([
    ['https://github.com/org/repo.git', 'https://github.com/org/repo.git'],
    ['https://user:s3cret@github.com/org/repo.git', 'https://github.com/org/repo.git'],
    ['https://x-access-token:ghs_abc/def@github.com/org/repo', 'https://github.com/org/repo'],
    ['https://user:pa?ss@github.com/org/repo', 'https://github.com/org/repo'],
    ['https://user:pa#ss@github.com/org/repo', 'https://github.com/org/repo'],
    ['https://user:p@ss@github.com/org/repo', 'https://github.com/org/repo'],
    ['https://github.com/org/repo?token=s3cret', 'https://github.com/org/repo'],
    ['https://github.com/org/repo#s3cret', 'https://github.com/org/repo'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['/srv/git/repo', '/srv/git/repo'],
    ['user:s3cret@host/repo', '(URL not shown: it may hold credentials)'],
  ])('%s → %s', (url, printed) => {
    expect(redactUrl(url)).toBe(printed);
  });

  it('scrubs the URL and any userinfo from what a tool printed about it', () => {
    const url = 'https://user:pa/ss@git.example.com/org/repo';
    const printed = redactUrlsIn(`fatal: unable to access '${url}/': Could not resolve host; also https://other:tok@h/x`, url);
    expect(printed).toBe("fatal: unable to access 'https://git.example.com/org/repo/': Could not resolve host; also https://h/x");
    expect(printed).not.toMatch(/pa\/ss|tok/);
  });
});
