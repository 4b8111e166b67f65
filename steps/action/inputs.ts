import { readFileSync } from 'node:fs';
import { ForgeError } from '../lib/errors.ts';
import { OWN_PARAMETERS, type SubmitInput } from '../lib/submission/index.ts';

/** The action's inputs, as `@actions/core` reads them (`INPUT_<NAME>`), before validation. */
export interface RawInputs {
  server: string;
  namespace: string;
  template: string;
  parameters: string[];
  attempt: string;
  wait: string;
  timeout: string;
}

export interface ActionInputs {
  server: string;
  submit: SubmitInput;
  wait: boolean;
  timeoutMs: number;
}

const bad = (input: string, message: string) => new ForgeError('INVALID_ARGS', 'invalid action inputs', [{ field: input, message }]);

/** `30`, `90s`, `15m`, `6h` → milliseconds (a bare number is seconds). At most 72 h (a job's own limit). */
export function parseTimeout(text: string): number {
  const m = /^(\d{1,6})\s*(s|m|h)?$/.exec(text.trim());
  if (!m) throw bad('timeout', 'must be a duration like 90s, 30m or 6h');
  const ms = Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
  if (ms < 1_000 || ms > 72 * 3_600_000) throw bad('timeout', 'must be from 1s to 72h');
  return ms;
}

function parseBoolean(input: string, text: string): boolean {
  // The YAML 1.2 core schema's booleans, as @actions/core's getBooleanInput takes them.
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (text === '' || /^(false|False|FALSE)$/.test(text)) return false;
  throw bad(input, 'must be true or false');
}

/** `name=value` lines (blank lines and `#` comments skipped); a name given twice is refused. */
export function parseParameters(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw bad('parameters', `has a line that is not name=value (line ${lines.indexOf(line) + 1}; contents not shown)`);
    const name = line.slice(0, eq).trim();
    if (name in out) throw bad('parameters', `names ${name.slice(0, 64)} twice`);
    out[name] = line.slice(eq + 1);
  }
  return out;
}

/** What the triggering event was for, from the runner's GITHUB_* variables and event payload. */
export function fromGitHub(env: NodeJS.ProcessEnv): Pick<SubmitInput, 'repoUrl' | 'commit' | 'branch' | 'tag' | 'pr'> {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repoUrl = env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}.git` : '';
  let commit = env.GITHUB_SHA ?? '';
  const pr = /^refs\/pull\/(\d+)\//.exec(env.GITHUB_REF ?? '')?.[1];
  if (pr && env.GITHUB_EVENT_PATH) {
    // On pull_request, GITHUB_SHA is a merge commit GitHub made; the run builds the PR's head.
    try {
      const head = (JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { pull_request?: { head?: { sha?: unknown } } }).pull_request?.head?.sha;
      if (typeof head === 'string') commit = head;
    } catch {
      // No readable payload: keep GITHUB_SHA.
    }
  }
  if (pr) return { repoUrl, commit, pr };
  if (env.GITHUB_REF_TYPE === 'tag') return { repoUrl, commit, tag: env.GITHUB_REF_NAME };
  if (env.GITHUB_REF_TYPE === 'branch') return { repoUrl, commit, branch: env.GITHUB_REF_NAME };
  return { repoUrl, commit };
}

/**
 * The inputs validated. `parameters` may set the template's parameters: `repo-url`, `commit`,
 * `branch`, `tag` and `pull-request` override what the GitHub event says; any other name is passed
 * to the template as given. Everything is then checked as `forge submit` checks its options.
 */
export function readInputs(raw: RawInputs, env: NodeJS.ProcessEnv): ActionInputs {
  if (!raw.server) throw bad('server', 'is required (the Argo Server URL, e.g. https://argo.example.com)');
  const params = parseParameters(raw.parameters);
  const own: Partial<Record<(typeof OWN_PARAMETERS)[number], string>> = {};
  for (const k of OWN_PARAMETERS) {
    if (k in params) own[k] = params[k];
    delete params[k];
  }
  const gh = fromGitHub(env);
  const refGiven = own.branch !== undefined || own.tag !== undefined || own['pull-request'] !== undefined;
  const attempt = raw.attempt === '' ? 1 : Number(raw.attempt);
  const submit: SubmitInput = {
    template: raw.template || 'forge-pipeline',
    namespace: raw.namespace || 'argo',
    repoUrl: own['repo-url'] ?? gh.repoUrl,
    commit: own.commit ?? gh.commit,
    ...(refGiven ? { branch: own.branch || undefined, tag: own.tag || undefined, pr: own['pull-request'] || undefined } : { branch: gh.branch, tag: gh.tag, pr: gh.pr }),
    attempt,
    parameters: params,
  };
  if (!submit.repoUrl) throw bad('parameters', 'has no repo-url and GITHUB_REPOSITORY is unset');
  if (!submit.commit) throw bad('parameters', 'has no commit and GITHUB_SHA is unset');
  return { server: raw.server, submit, wait: parseBoolean('wait', raw.wait), timeoutMs: parseTimeout(raw.timeout || '6h') };
}
