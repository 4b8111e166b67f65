export { githubCall, type GithubCall } from './rest.ts';
export { parseGithubRepository, type GithubRepository } from './repository.ts';
export { COMMIT_STATES, commitState, DEFAULT_CONTEXT, defaultDescription, fitDescription, MAX_DESCRIPTION, setCommitStatus, type CommitState, type CommitStatus } from './status.ts';
export { loadGithubToken } from './token.ts';
