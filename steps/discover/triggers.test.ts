import { describe, expect, it } from 'vitest';
import type { ProjectConfig, RepoConfig } from './config.ts';
import { evaluateTriggers, tagReleases } from './triggers.ts';

const repo = (strategy: 'monorepo' | 'tag-all'): RepoConfig => ({ forgeVersion: 'v1.0.0', tagging: { strategy }, phases: {}, publishers: {} });
const project = (on: ProjectConfig['release']['on'], enabled = true): ProjectConfig => ({
  name: 'api',
  ci: { phases: {} },
  artifacts: {},
  release: { on, enabled },
  deployment: { resources: [] },
});

describe('release triggers', () => {
  it('matches branch patterns against the whole branch name', () => {
    const p = project([{ branch: 'release/.*' }]);
    expect(evaluateTriggers(p, repo('monorepo'), { branch: 'release/1.2' })).toEqual({ triggered: true, reason: 'branch release/1.2' });
    expect(evaluateTriggers(p, repo('monorepo'), { branch: 'old-release/1.2' }).triggered).toBe(false);
    expect(evaluateTriggers(project([{ branch: 'main' }]), repo('monorepo'), { branch: 'main-2' }).triggered).toBe(false);
    expect(evaluateTriggers(project([{ branch: 'main|develop' }]), repo('monorepo'), { branch: 'develop' }).triggered).toBe(true);
  });

  it('gives monorepo tags to their project only', () => {
    expect(tagReleases('api/v1.2.3', 'api', 'monorepo')).toBe(true);
    expect(tagReleases('api/v1.2.3-rc.1', 'api', 'monorepo')).toBe(true);
    expect(tagReleases('worker/v1.2.3', 'api', 'monorepo')).toBe(false);
    expect(tagReleases('v1.2.3', 'api', 'monorepo')).toBe(false);
    expect(tagReleases('api/latest', 'api', 'monorepo')).toBe(false);
    expect(tagReleases('team/api/v1.0.0', 'team/api', 'monorepo')).toBe(true);
  });

  it('gives bare version tags to every project under tag-all', () => {
    expect(tagReleases('v2.0.0', 'api', 'tag-all')).toBe(true);
    expect(tagReleases('api/v2.0.0', 'api', 'tag-all')).toBe(false);
    expect(evaluateTriggers(project([{ tag: true }]), repo('tag-all'), { tag: 'v2.0.0' })).toEqual({ triggered: true, reason: 'tag v2.0.0' });
  });

  it('needs a tag trigger for tags, and release.enabled false turns everything off', () => {
    expect(evaluateTriggers(project([{ branch: 'main' }]), repo('tag-all'), { tag: 'v2.0.0' }).triggered).toBe(false);
    expect(evaluateTriggers(project([{ branch: 'main' }, { tag: true }], false), repo('tag-all'), { branch: 'main', tag: 'v2.0.0' }).triggered).toBe(false);
    expect(evaluateTriggers(project([]), repo('monorepo'), { branch: 'main' }).triggered).toBe(false);
  });
});
