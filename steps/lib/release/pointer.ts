import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import YAML from 'yaml';
import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { redactUrl, redactUrlsIn } from '../log.ts';
import { toolPath } from '../tools.ts';

/**
 * The GitOps pointer `environments/<env>/<repository>/<project>/release.yaml` (`kind:
 * ReleasePointer`, the seed's fields), committed and pushed with simple-git. A push that loses a
 * race (non-fast-forward) is retried on the new head with backoff: the pointer is written again
 * on top of what the other writer pushed, so every update lands and history stays linear. Never
 * forced; a pointer that already says the same release is not committed again.
 */
const segment = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

export const pointerInputSchema = z.object({
  environment: z.string().regex(segment, 'must be an environment name'),
  repository: z.string().regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/, 'must be a lower-case repository path').max(255),
  project: z.string().regex(segment, 'must be a project name'),
  release: z.string().regex(/^[0-9a-f]{40}$/, 'must be the release commit SHA (numbers and digests are not pointer values)'),
  aliases: z.object({ numeric: z.number().int().min(1), tag: z.string().optional(), branch: z.string().optional() }),
  deployedBy: z.string().min(1).max(255),
  approvedBy: z.string().max(255).optional(),
  approvedAt: z.string().optional(),
});
export type PointerInput = z.infer<typeof pointerInputSchema>;

export const pointerPath = (p: Pick<PointerInput, 'environment' | 'repository' | 'project'>) => `environments/${p.environment}/${p.repository}/${p.project}/release.yaml`;

export function renderPointer(p: PointerInput, deployedAt: string): string {
  return YAML.stringify({
    apiVersion: 'forge.projectcatalyst.io/v1',
    kind: 'ReleasePointer',
    metadata: { name: p.project, environment: p.environment },
    spec: { release: p.release, aliases: p.aliases, deployedAt, deployedBy: p.deployedBy, ...(p.approvedBy ? { approvedBy: p.approvedBy, approvedAt: p.approvedAt } : {}) },
  });
}

export interface PointerUpdate {
  /** The commit that updated the pointer; undefined when it already said this release. */
  commit?: string;
  path: string;
  attempts: number;
}

export interface PointerOptions {
  /** The GitOps repository (any URL git can push to; credentials never printed). */
  url: string;
  branch?: string;
  /** The commit message; the default says project, environment, release number and aliases. */
  message?: string;
  maxAttempts?: number;
  now?: () => Date;
  /** Who the commit is by (the platform config's gitops.author); default: the deployer. */
  author?: { name: string; email: string };
}

export async function updatePointer(input: PointerInput, opts: PointerOptions): Promise<PointerUpdate> {
  const parsed = pointerInputSchema.safeParse(input);
  if (!parsed.success) throw new ForgeError('INVALID_ARGS', 'invalid release pointer', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  const p = parsed.data;
  const branch = opts.branch ?? 'main';
  const path = pointerPath(p);
  const dir = await mkdtemp(join(tmpdir(), 'forge-gitops-'));
  const git: SimpleGit = simpleGit({ baseDir: dir, binary: toolPath('git') }).env(gitEnv());
  const where = `${redactUrl(opts.url)} (${branch})`;
  try {
    await git.clone(opts.url, dir, ['--single-branch', '--branch', branch]).catch((e: Error) => {
      throw new ForgeError('GIT_FAILED', `cannot clone the GitOps repository ${where}: ${redactUrlsIn(e.message, opts.url).trim()}`);
    });
    const maxAttempts = opts.maxAttempts ?? 10;
    for (let attempt = 1; ; attempt++) {
      const file = join(dir, path);
      const before = await readFile(file, 'utf8').catch(() => undefined);
      if (before !== undefined && samePointer(before, p)) return { path, attempts: attempt };
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, renderPointer(p, (opts.now?.() ?? new Date()).toISOString()));
      await git.add(path);
      const author = opts.author ?? { name: p.deployedBy, email: p.deployedBy.includes('@') ? p.deployedBy : `${p.deployedBy}@forge.invalid` };
      await git.raw(['-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', opts.message ?? deployMessage(p)]);
      const pushed = await git.push('origin', `HEAD:refs/heads/${branch}`).then(() => true, (e: Error) => {
        if (/non-fast-forward|fetch first|rejected|failed to update ref|cannot lock ref/i.test(e.message)) return false;
        throw new ForgeError('GIT_FAILED', `cannot push the pointer ${path} to ${where}: ${redactUrlsIn(e.message, opts.url).trim()}`);
      });
      if (pushed) return { commit: (await git.revparse(['HEAD'])).trim(), path, attempts: attempt };
      if (attempt >= maxAttempts) throw new ForgeError('GIT_FAILED', `the pointer ${path} lost the race to ${where} ${attempt} times: giving up (nothing was forced)`);
      // Another writer got in first: start again from its head (our one change re-applied on top).
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(400, 20 * 2 ** attempt))); // full jitter, short: a push takes ~0.1 s
      await git.fetch('origin', branch);
      await git.reset(['--hard', `origin/${branch}`]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Git's environment: what it needs to find its config and CAs, and never a prompt for a password. */
function gitEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'GIT_SSL_CAINFO', 'GIT_CONFIG_GLOBAL'];
  return { ...Object.fromEntries(keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))), GIT_TERMINAL_PROMPT: '0' };
}

/** The pointer already names this release with these aliases and approval (only the time would change). */
function samePointer(text: string, p: PointerInput): boolean {
  try {
    const spec = (YAML.parse(text) as { spec?: Record<string, unknown> })?.spec ?? {};
    return spec.release === p.release && JSON.stringify(spec.aliases) === JSON.stringify(p.aliases) && (spec.approvedBy ?? undefined) === p.approvedBy;
  } catch {
    return false;
  }
}

/** `42 (api/v1.2.3, main-42)`: a release number with its other aliases. */
export function releaseLabel(aliases: { numeric: number | string; tag?: string; branch?: string }): string {
  const others = [aliases.tag, aliases.branch].filter(Boolean).join(', ');
  return `${aliases.numeric}${others ? ` (${others})` : ''}`;
}

export function deployMessage(p: PointerInput): string {
  return `Deploy ${p.project} to ${p.environment}: release ${releaseLabel(p.aliases)}\n\nRepository: ${p.repository}\nRelease: ${p.release}\nDeployed by: ${p.deployedBy}${p.approvedBy ? `\nApproved by: ${p.approvedBy} at ${p.approvedAt}` : ''}\n`;
}

/**
 * A rollback's message, as the reference (§4.5) gives it: `Rollback <project> in <env> to release
 * <n> (<tag>)`, a blank line, `Previous release: …`, `Rolled back by: …` (then the approval, if any).
 */
export function rollbackMessage(p: PointerInput, previous: { numeric: number | string; tag?: string; branch?: string } | undefined): string {
  return `Rollback ${p.project} in ${p.environment} to release ${releaseLabel(p.aliases)}\n\nPrevious release: ${previous ? releaseLabel(previous) : 'none'}\nRolled back by: ${p.deployedBy}${p.approvedBy ? `\nApproved by: ${p.approvedBy} at ${p.approvedAt}` : ''}\n`;
}
