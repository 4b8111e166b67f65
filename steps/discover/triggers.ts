import type { ProjectConfig, RepoConfig } from './config.ts';

export interface GitContext {
  branch?: string;
  tag?: string;
}

export interface TriggerResult {
  triggered: boolean;
  /** Which trigger fired, for people reading the output (`branch main`, `tag api/v1.2.0`). */
  reason?: string;
}

const VERSION = /^v\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;

/**
 * Evaluates a project's release triggers against the commit's branch and tag.
 *
 * - `{branch: "<regex>"}` fires when the regex matches the whole branch name.
 * - `{tag: true}` fires for a version tag the repository's tagging strategy gives the project:
 *   `monorepo` → `<project>/v1.2.3`; `tag-all` → `v1.2.3` releases every project with a tag trigger.
 * - `release.enabled: false` turns every trigger off.
 */
export function evaluateTriggers(project: ProjectConfig, repo: RepoConfig, ctx: GitContext): TriggerResult {
  if (!project.release.enabled) return { triggered: false };
  for (const trigger of project.release.on) {
    if ('branch' in trigger) {
      if (ctx.branch && new RegExp(`^(?:${trigger.branch})$`).test(ctx.branch)) {
        return { triggered: true, reason: `branch ${ctx.branch}` };
      }
    } else if (ctx.tag && tagReleases(ctx.tag, project.name, repo.tagging.strategy)) {
      return { triggered: true, reason: `tag ${ctx.tag}` };
    }
  }
  return { triggered: false };
}

export function tagReleases(tag: string, project: string, strategy: 'monorepo' | 'tag-all'): boolean {
  if (strategy === 'tag-all') return VERSION.test(tag);
  const slash = tag.lastIndexOf('/');
  return slash > 0 && tag.slice(0, slash) === project && VERSION.test(tag.slice(slash + 1));
}

/** A branch regex that does not compile is a configuration error, found before any run. */
export function invalidBranchPatterns(project: ProjectConfig): string[] {
  return project.release.on.flatMap((t) => {
    if (!('branch' in t)) return [];
    try {
      new RegExp(t.branch);
      return [];
    } catch (e) {
      return [`release trigger branch ${JSON.stringify(t.branch)} is not a valid regular expression: ${(e as Error).message}`];
    }
  });
}
