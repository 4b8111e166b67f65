import { createHash } from 'node:crypto';
import { ForgeError } from '../errors.ts';
import type { Workflow } from '../argo-server/index.ts';

export interface SubmitInput {
  template: string;
  repoUrl: string;
  commit: string;
  branch?: string;
  tag?: string;
  pr?: string;
  attempt: number;
  namespace: string;
  /** More parameters of the template (the GitHub Action's `parameters` input), name → value. */
  parameters?: Record<string, string>;
}

/** The parameters submitWorkflow sets itself; `parameters` may not name them. */
export const OWN_PARAMETERS = ['repo-url', 'commit', 'branch', 'tag', 'pull-request'] as const;
const PARAMETER_NAME = /^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$/;
const MAX_PARAMETER_VALUE = 8 * 1024;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
// Git ref names: no control characters, spaces or the characters git refuses (git-check-ref-format).
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const REF = /^(?!\/|.*\/\/|.*\.\.|.*@\{|.*\/$|.*\.lock$|.*\.$)[^\x00-\x20\x7f~^:?*[\\]{1,255}$/;

/** Validates the inputs (hostile: they come from CI event payloads). */
export function checkInput(i: SubmitInput): void {
  const bad = (field: string, message: string) => new ForgeError('INVALID_ARGS', 'invalid arguments', [{ field, message }]);
  if (!DNS_LABEL.test(i.template) || i.template.length > 63) throw bad('--template', 'must be a WorkflowTemplate name (a DNS label)');
  if (!DNS_LABEL.test(i.namespace) || i.namespace.length > 63) throw bad('--namespace', 'must be a namespace name (a DNS label)');
  if (!COMMIT.test(i.commit)) throw bad('--commit', 'must be the full commit SHA (40 or 64 lowercase hex characters): the workflow name derives from it');
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (i.repoUrl.length > 2048 || /[\x00-\x20\x7f]/.test(i.repoUrl) || !/^(https?:\/\/|ssh:\/\/|git@)[^/]+[:/].+/.test(i.repoUrl)) {
    throw bad('--repo-url', 'must be an https://, ssh:// or git@host: URL without spaces (at most 2048 characters)');
  }
  if (/^https?:\/\/[^/]*@/.test(i.repoUrl)) throw bad('--repo-url', 'must not carry credentials (the workers bring their own)');
  if ([i.branch, i.tag, i.pr].filter((v) => v !== undefined).length > 1) throw bad('--branch', 'give at most one of --branch, --tag and --pr');
  if (i.branch !== undefined && !REF.test(i.branch)) throw bad('--branch', 'is not a valid git branch name');
  if (i.tag !== undefined && !REF.test(i.tag)) throw bad('--tag', 'is not a valid git tag name');
  if (i.pr !== undefined && !/^[1-9][0-9]{0,9}$/.test(i.pr)) throw bad('--pr', 'must be a pull request number');
  if (!Number.isInteger(i.attempt) || i.attempt < 1 || i.attempt > 9999) throw bad('--attempt', 'must be a whole number from 1 to 9999');
  for (const [name, value] of Object.entries(i.parameters ?? {})) {
    if (!PARAMETER_NAME.test(name)) throw bad(`parameters.${name.slice(0, 64)}`, 'is not a parameter name (letters, digits, -, _ and ., at most 63)');
    if ((OWN_PARAMETERS as readonly string[]).includes(name)) throw bad(`parameters.${name}`, 'is set from the repository, commit and ref; give it through those inputs');
    if (value.length > MAX_PARAMETER_VALUE) throw bad(`parameters.${name}`, `is longer than ${MAX_PARAMETER_VALUE} characters`);
  }
}

/** The repository's last path segment without `.git`, as a label-safe slug. */
export function repoSlug(repoUrl: string): string {
  const last = repoUrl.replace(/\/+$/, '').split(/[/:]/).pop() ?? '';
  return last.replace(/\.git$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'repo';
}

/**
 * The deterministic workflow name: `<repo>-<commit 12>-<hash 6>-<attempt>`, where the hash is of
 * the full repository URL, commit and attempt (two repositories of the same name never share a
 * run). At most 63 characters, a DNS label, so it also fits the `workflows.argoproj.io/workflow`
 * label Argo puts on the pods. The same inputs give the same name: a retried submit attaches.
 */
export function workflowName(repoUrl: string, commit: string, attempt: number): string {
  const hash = createHash('sha256').update(`${repoUrl}\n${commit}\n${attempt}`).digest('hex').slice(0, 6);
  const tail = `-${commit.slice(0, 12)}-${hash}-${attempt}`;
  const slug = repoSlug(repoUrl).slice(0, 63 - tail.length).replace(/-+$/, '') || 'repo';
  return `${slug}${tail}`;
}

/** The Workflow to create: only a reference to the template and its parameters (the controller allows nothing else under templateReferencing: Secure). */
export function submitWorkflow(i: SubmitInput): Workflow {
  checkInput(i);
  const name = workflowName(i.repoUrl, i.commit, i.attempt);
  const ref = i.tag ? `tag ${i.tag}` : i.pr ? `pull request #${i.pr}` : i.branch ? `branch ${i.branch}` : 'no branch';
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: {
      name,
      namespace: i.namespace,
      labels: {
        'app.kubernetes.io/part-of': 'forge-workflows',
        'forge.dev/submitted-by': 'forge-submit',
        'forge.dev/repository': repoSlug(i.repoUrl).slice(0, 63).replace(/-+$/, ''),
        'forge.dev/commit': i.commit.slice(0, 63),
        'forge.dev/attempt': String(i.attempt),
        ...(i.pr ? { 'forge.dev/pull-request': i.pr } : {}),
      },
      annotations: {
        // Set through create, so commas and any other characters arrive as given.
        'workflows.argoproj.io/title': `${repoSlug(i.repoUrl)} · ${ref} · ${i.commit.slice(0, 12)}`,
        'workflows.argoproj.io/description': `Repository ${i.repoUrl}, commit ${i.commit}, ${ref}, attempt ${i.attempt}.`,
        'forge.dev/repo-url': i.repoUrl,
      },
    },
    spec: {
      workflowTemplateRef: { name: i.template },
      arguments: {
        parameters: [
          { name: 'repo-url', value: i.repoUrl },
          { name: 'commit', value: i.commit },
          { name: 'branch', value: i.branch ?? '' },
          { name: 'tag', value: i.tag ?? '' },
          { name: 'pull-request', value: i.pr ?? '' },
          ...Object.entries(i.parameters ?? {}).map(([name, value]) => ({ name, value })),
        ],
      },
    },
  };
}
