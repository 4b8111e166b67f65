import { ForgeError } from '../errors.ts';

/**
 * The repository path release images, tracking images and pointers are named by
 * (`<owner>/<name>`): the last two segments of the git URL, lower-cased, without `.git` and
 * without credentials. `https://github.com/Acme/Monorepo.git` → `acme/monorepo`;
 * `git@github.com:acme/monorepo.git` → `acme/monorepo`; `file:///srv/git/monorepo.git` → `git/monorepo`.
 */
export function repositoryName(url: string): string {
  const path = url
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') // scheme://host (and user:password@)
    .replace(/^[^/:@]+@[^:]+:/, '') // scp-like user@host:
    .replace(/[?#].*$/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  const parts = path.split(/[/:]/).filter(Boolean).slice(-2).map((p) => p.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, ''));
  const name = parts.filter(Boolean).join('/');
  if (!/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?$/.test(name)) throw new ForgeError('INVALID_ARGS', `cannot name a repository after the git URL ${url.replace(/\/\/[^/@]*@/, '//')}`);
  return name;
}
