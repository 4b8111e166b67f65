import { isForgeError } from '../lib/errors.ts';
import { defaultDescription, loadGithubToken, parseGithubRepository, setCommitStatus } from '../lib/github/index.ts';

export interface PendingStatus {
  repoUrl: string;
  commit: string;
  /** The run in the Argo UI (what submit printed first). */
  targetUrl: string;
  apiUrl: string;
  tokenFile?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * `forge submit`'s optional commit status: `pending` (context ci/catalyst-forge) with the Argo UI
 * link, once the workflow exists. Only with a GitHub token (`--github-token-file` or GITHUB_TOKEN).
 * Never fails the submit: the run is already there, so every problem (no GitHub-shaped repository
 * URL, an unreadable token file, GitHub refusing) comes back as a warning line. Undefined when
 * there is no token (nothing to do), else the line to print.
 */
export async function setPendingStatus(p: PendingStatus): Promise<{ ok: boolean; line: string } | undefined> {
  try {
    const token = await loadGithubToken(p.tokenFile, p.env ?? process.env, '--github-token-file');
    if (!token) return undefined;
    const { owner, repo } = parseGithubRepository(p.repoUrl);
    const set = await setCommitStatus({
      apiUrl: p.apiUrl,
      owner,
      repo,
      sha: p.commit,
      state: 'pending',
      targetUrl: p.targetUrl,
      description: defaultDescription('pending'),
      token,
      // A submit returns at once (fire-and-forget): a short retry, not the exit handler's.
      attempts: 3,
      backoffMs: 500,
    });
    return { ok: true, line: `commit status ${set.context}: pending on ${owner}/${repo}@${p.commit.slice(0, 12)}` };
  } catch (e) {
    return { ok: false, line: `warning: commit status not set (the run goes on): ${isForgeError(e) ? e.message : (e as Error).message}` };
  }
}
