import { describe, expect, it } from 'vitest';
import type { ProjectConfig, RepoConfig } from './config.ts';
import { evaluateTriggers, invalidBranchPatterns, tagReleases } from './triggers.ts';

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

  it('runs branch patterns on RE2: (a+)+b against 100,000 a is linear, not exponential', () => {
    const started = performance.now();
    expect(evaluateTriggers(project([{ branch: '(a+)+b' }, { branch: '(x+x+)+y' }]), repo('monorepo'), { branch: 'a'.repeat(100_000) }).triggered).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000); // JavaScript's backtracking engine: beyond the age of the universe
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

describe('branch patterns RE2 refuses', () => {
  it('names backreferences, lookaround and over-long patterns', () => {
    expect(invalidBranchPatterns(project([{ branch: 'main' }, { tag: true }]))).toEqual([]);
    const messages = invalidBranchPatterns(project([{ branch: '(a)\\1' }, { branch: '(?<=x)y' }, { branch: 'a'.repeat(257) }]));
    expect(messages).toHaveLength(3);
    expect(messages[0]).toMatch(/^release trigger branch "\(a\)\\\\1" is refused: invalid escape sequence/);
    expect(messages[1]).toMatch(/is refused: invalid named capture/);
    expect(messages[2]).toMatch(/is refused: longer than 256 characters/);
  });
});

describe('task ids', () => {
  it('stay unique and within 63 characters', async () => {
    const { buildDiscovery } = await import('./contract.ts');
    const phase = (group: number) => ({ group, description: '', timeout: '5m', required: false });
    const step = { action: 'script' as const, target: 'true', priority: 0, args: [], secrets: [] };
    const proj = (name: string, phases: string[]): ProjectConfig => ({
      name,
      ci: { phases: Object.fromEntries(phases.map((p) => [p, { s: step }])) },
      artifacts: {},
      release: { on: [], enabled: true },
      deployment: { resources: [] },
    });
    const long = 'p'.repeat(60);
    const out = buildDiscovery({
      repoFile: '.forge/repo.cue',
      repo: { ...repo('monorepo'), phases: { build: phase(1), 'build-x': phase(1) } },
      projects: [
        { file: 'a/.forge/project.cue', config: proj('x-y', ['build']) },
        { file: 'b/.forge/project.cue', config: proj('y', ['build-x']) },
        { file: 'c/.forge/project.cue', config: proj(`${long}-a`, ['build']) },
        { file: 'd/.forge/project.cue', config: proj(`${long}-b`, ['build']) },
      ],
      source: { commit: '0'.repeat(40) },
      context: {},
      slots: 2,
    });
    const ids = out.slots[0]!.tasks.map((t) => t.id);
    expect(new Set(ids).size).toBe(4);
    expect(ids.every((id) => id.length <= 63)).toBe(true);
    expect(ids).toContain('build-x-y');
  });
});
