import { z } from 'zod';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { COMMIT_STATES, commitState, DEFAULT_CONTEXT, defaultDescription, loadGithubToken, parseGithubRepository, setCommitStatus, type CommitState } from '../lib/github/index.ts';

const usage = `Usage: forge status --repo-url URL --commit SHA --state STATE --target-url URL [--description TEXT]
                    [--duration SECONDS] [--context ci/catalyst-forge] [--api-url https://api.github.com]
                    [--token-file F]

Sets the commit status of a pipeline run on GitHub (POST /repos/{owner}/{repo}/statuses/{sha}):
context ci/catalyst-forge, linking to the run in the Argo UI. forge-pipeline's exit handler runs it
with the run's outcome; forge submit sets pending itself. Network errors, 5xx and 429 are retried
(1, 2, 4 s); a refusal (401/403/404/422) fails at once, naming what to check. The token is never printed.

Options (each may also come from FORGE_<OPTION>):
  --repo-url URL       the repository: https://host/owner/repo, ssh://host/owner/repo or git@host:owner/repo
  --commit SHA         the full commit SHA
  --state STATE        pending, success, failure or error; or an Argo workflow status
                       (Succeeded → success, Failed → failure, anything else → error)
  --target-url URL     the run in the Argo UI (<ui>/workflows/<namespace>/<name>)
  --description TEXT   default: the platform's message for the state ("Pipeline succeeded in 4m05s", …);
                       cut to 140 characters
  --duration SECONDS   how long the run took, for the default message of a finished run
  --context NAME       default ${DEFAULT_CONTEXT}
  --api-url URL        default https://api.github.com (Enterprise: https://<host>/api/v3)
  --token-file F       file holding the GitHub token (default: $GITHUB_TOKEN)
`;

const schema = z.object({
  'repo-url': z.string().min(1),
  commit: z.string().min(1),
  state: z.string().min(1),
  'target-url': z.string().min(1),
  description: z.string().optional(),
  duration: z.coerce.number().min(0).optional(),
  context: z.string().default(DEFAULT_CONTEXT),
  'api-url': z.string().default('https://api.github.com'),
  'token-file': z.string().optional(),
  ...commonSchema,
});

/** A commit state, or an Argo workflow status mapped to one (reference §2.7). */
export function stateOf(value: string): CommitState {
  if ((COMMIT_STATES as readonly string[]).includes(value)) return value as CommitState;
  if (/^[A-Z][A-Za-z]*$/.test(value)) return commitState(value);
  throw new ForgeError('INVALID_ARGS', 'invalid arguments', [{ field: '--state', message: `must be one of ${COMMIT_STATES.join(', ')} or an Argo workflow status (Succeeded, Failed, Error)` }]);
}

export async function main(argv: string[]): Promise<void> {
  await stepMain(argv, {
    tool: 'status',
    usage,
    schema,
    async run(v, _positionals, log) {
      const { owner, repo } = parseGithubRepository(v['repo-url']);
      const state = stateOf(v.state);
      const token = await loadGithubToken(v['token-file']);
      if (!token) {
        throw new ForgeError('INVALID_ARGS', 'no GitHub token: give --token-file or set GITHUB_TOKEN (in forge-pipeline: the Secret named by the platform config\'s github.tokenSecret is missing, or has no such key)', [
          { field: '--token-file', message: 'is required when GITHUB_TOKEN is unset' },
        ]);
      }
      const set = await setCommitStatus({
        apiUrl: v['api-url'],
        owner,
        repo,
        sha: v.commit,
        state,
        targetUrl: v['target-url'],
        description: v.description || defaultDescription(state, v.duration),
        context: v.context,
        token,
        onRetry: (reason, delayMs, attempt) => log.warn({ reason, delayMs, attempt }, `commit status not set (${reason}); retrying in ${delayMs} ms`),
      });
      const result = { repository: `${owner}/${repo}`, commit: v.commit, state: set.state, context: set.context, description: set.description, targetUrl: v['target-url'] };
      return { result, text: `${set.context}: ${set.state} on ${owner}/${repo}@${v.commit.slice(0, 12)} — ${set.description}\n` };
    },
  });
}
