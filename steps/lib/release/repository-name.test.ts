import { describe, expect, it } from 'vitest';
import { repositoryName } from './repository-name.ts';

describe('repositoryName', () => {
  it.each([
    ['https://github.com/Acme/Monorepo.git', 'acme/monorepo'],
    ['https://user:s3cret@git.example.com/acme/monorepo', 'acme/monorepo'],
    ['git@github.com:acme/monorepo.git', 'acme/monorepo'],
    ['ssh://git@git.example.com:2222/team/sub/app.git/', 'sub/app'],
    ['file:///srv/git/monorepo.git', 'git/monorepo'],
    ['/tmp/x/remote.git', 'x/remote'],
    ['http://10.0.0.5:3000/forge/my_repo.git?x=1', 'forge/my_repo'],
  ])('%s → %s', (url, name) => expect(repositoryName(url)).toBe(name));

  it('refuses a URL it cannot name, without its credentials', () => {
    expect(() => repositoryName('https://u:pw@host/')).toThrow(/cannot name a repository after the git URL https:\/\/host\//);
  });
});
