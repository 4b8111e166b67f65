import { RE2JS } from 're2js';
import type { ProjectConfig, RepoConfig } from './config.ts';
import { LIMITS, printable } from './limits.ts';

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
 * - `{branch: "<regex>"}` fires when the regex matches the whole branch name. The regex is
 *   repository content: it runs on RE2 (re2js), whose matching time is linear in the branch
 *   name whatever the pattern (`(a+)+b` cannot backtrack), never on JavaScript's engine.
 * - `{tag: true}` fires for a version tag the repository's tagging strategy gives the project:
 *   `monorepo` → `<project>/v1.2.3`; `tag-all` → `v1.2.3` releases every project with a tag trigger.
 * - `release.enabled: false` turns every trigger off.
 */
export function evaluateTriggers(project: ProjectConfig, repo: RepoConfig, ctx: GitContext): TriggerResult {
  if (!project.release.enabled) return { triggered: false };
  for (const trigger of project.release.on) {
    if ('branch' in trigger) {
      if (ctx.branch && compileBranchPattern(trigger.branch).matches(ctx.branch)) {
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

const compiled = new Map<string, RE2JS>();

/** A branch pattern compiled by RE2 (cached: every project may repeat `main`). Throws on syntax RE2 lacks. */
export function compileBranchPattern(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    if (pattern.length > LIMITS.patternLength) throw new Error(`longer than ${LIMITS.patternLength} characters`);
    re = RE2JS.compile(pattern);
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * A branch regex that RE2 does not accept is a configuration error, found before any run: a
 * syntax error, a pattern over LIMITS.patternLength, or what RE2 leaves out on purpose because
 * it cannot run in linear time (backreferences `\1`, lookaround `(?=` `(?!` `(?<=` `(?<!`).
 */
export function invalidBranchPatterns(project: ProjectConfig): string[] {
  return project.release.on.flatMap((t) => {
    if (!('branch' in t)) return [];
    try {
      compileBranchPattern(t.branch);
      return [];
    } catch (e) {
      const shown = printable(t.branch.length > 80 ? `${t.branch.slice(0, 80)}…` : t.branch);
      return [
        `release trigger branch "${shown}" is refused: ${(e as Error).message.replace(/^error parsing regexp: /, '')} ` +
          '(branch patterns are RE2 regular expressions of at most 256 characters: no backreferences or lookaround, which cannot run in linear time)',
      ];
    }
  });
}
