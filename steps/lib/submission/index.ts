/** Starting a library template's run through the Argo Server: shared by `forge submit` and the GitHub Action (README.md beside this file). */
export { createOrAttach, CREATE_ATTEMPTS, failedLogs } from './attach.ts';
export { failedPods, Progress } from './progress.ts';
export { checkInput, OWN_PARAMETERS, repoSlug, submitWorkflow, workflowName, type SubmitInput } from './workflow.ts';
