import { ForgeError } from '../errors.ts';
import { redactUrl } from '../log.ts';

/** A GitHub repository as its REST API names it. */
export interface GithubRepository {
  owner: string;
  repo: string;
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^(?!\.\.?$)[A-Za-z0-9_.-]{1,100}$/;

/**
 * Owner and repository from a repository URL in the forms forge takes (`https://host/owner/repo[.git]`,
 * `ssh://[user@]host[:port]/owner/repo[.git]`, `git@host:owner/repo[.git]`). Anything else is
 * refused by name: http://, credentials in an https URL, a path deeper or shallower than
 * owner/repo, names GitHub does not allow. Errors show the URL with any userinfo removed.
 */
export function parseGithubRepository(url: string): GithubRepository {
  const bad = (why: string) => new ForgeError('INVALID_ARGS', `repository URL ${JSON.stringify(redactUrl(url))}: ${why}`, [{ field: '--repo-url', message: why }]);
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (url.length > 2048 || /[\x00-\x20\x7f]/.test(url)) throw bad('must be at most 2048 characters without spaces or control characters');
  let path: string;
  let m: RegExpExecArray | null;
  if ((m = /^https:\/\/([^/]+)\/(.*)$/.exec(url))) {
    if (m[1]!.includes('@')) throw bad('must not carry credentials (the token is given separately)');
    path = m[2]!;
  } else if ((m = /^ssh:\/\/(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?\/(.*)$/.exec(url))) {
    path = m[1]!;
  } else if ((m = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/)(.*)$/.exec(url))) {
    path = m[1]!;
  } else {
    throw bad('is not an https://host/owner/repo, ssh://host/owner/repo or git@host:owner/repo URL');
  }
  path = path.replace(/\/+$/, '').replace(/\.git$/, '');
  if (/[?#]/.test(path)) throw bad('must not have a query or fragment');
  const parts = path.split('/');
  if (parts.length !== 2) throw bad(`its path must be owner/repo (got ${parts.length} segment${parts.length === 1 ? '' : 's'})`);
  const [owner, repo] = parts as [string, string];
  if (!OWNER.test(owner)) throw bad(`owner ${JSON.stringify(owner)} is not a GitHub user or organization name`);
  if (!REPO.test(repo)) throw bad(`repository ${JSON.stringify(repo)} is not a GitHub repository name`);
  return { owner, repo };
}
