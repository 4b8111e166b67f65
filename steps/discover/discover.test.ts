import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { sampleRepo, tempRepos } from '../../test/helpers/git-repo.ts';
import { writeArgoOutputs } from './cli.ts';
import { discover } from './discover.ts';

const { repo, cleanup } = tempRepos();
afterEach(cleanup);

describe('discover: a valid repository', () => {
  it('builds projects, phase groups, slots and release triggers', async () => {
    const r = await repo(sampleRepo());
    const { output, json } = await discover({ source: r.dir, branch: 'main' });
    expect(JSON.parse(json)).toEqual(output);
    expect(output.source.commit).toBe(r.commit);
    expect(output.projects.map((p) => [p.name, p.path])).toEqual([
      ['common', 'libs/common'],
      ['api', 'services/api'],
      ['worker', 'services/worker'],
    ]);
    expect(output.phaseGroups).toEqual([
      { group: 1, phases: ['build', 'lint'] },
      { group: 2, phases: ['test'] },
    ]);
    expect(output.slots).toHaveLength(6);
    expect(output.slots[0]!.tasks.map((t) => t.id)).toEqual(['build-api', 'lint-common', 'lint-api', 'lint-worker']);
    expect(output.slots[1]!.tasks.map((t) => t.id)).toEqual(['test-api', 'test-worker']);
    expect(output.slots.slice(2).every((s) => s.group === null && s.tasks.length === 0)).toBe(true);
    expect(output.releaseProjects).toEqual(['api']);
    expect(output.releaseEnabled).toBe(true);
    const api = output.projects.find((p) => p.name === 'api')!;
    expect(api.deploymentTriggered).toBe(true);
    expect(api.artifacts['api-server']!.type).toBe('container');
  });

  it('orders steps by priority, groups equal priorities into stages, inherits phase timeouts', async () => {
    const r = await repo(sampleRepo());
    const { output } = await discover({ source: r.dir });
    const api = output.projects.find((p) => p.name === 'api')!;
    expect(api.phases.build!.map((s) => [s.name, s.priority, s.stage, s.timeout])).toEqual([
      ['compile', 10, 0, '15m'],
      ['docs', 5, 1, '15m'],
      ['package', 5, 1, '15m'],
    ]);
    expect(api.phases.test![0]!.timeout).toBe('3m');
    expect(api.phases.lint![0]).toMatchObject({ action: 'earthly', target: '+lint', args: [], secrets: [] });
  });

  it('keeps only projects under the path filter', async () => {
    const r = await repo(sampleRepo());
    const { output } = await discover({ source: r.dir, paths: ['services/**'] });
    expect(output.projects.map((p) => p.name)).toEqual(['api', 'worker']);
    expect(output.source.paths).toEqual(['services/**']);
  });

  it('fetches a git URL at an older commit, shallowly', async () => {
    const r = await repo(sampleRepo());
    const first = r.commit;
    await r.commitFiles({ 'libs/extra/.forge/project.cue': 'package project\nname: "extra"\nci: phases: lint: l: {action: "earthly", target: "+lint"}\n' });
    const now = await discover({ source: `file://${r.dir}` });
    expect(now.output.projects.map((p) => p.name)).toContain('extra');
    expect(now.output.source.repository).toBe(`file://${r.dir}`);
    const then = await discover({ source: `file://${r.dir}`, commit: first });
    expect(then.output.source.commit).toBe(first);
    expect(then.output.projects.map((p) => p.name)).not.toContain('extra');
    // a local path with another commit reads that commit, not the work tree
    const local = await discover({ source: r.dir, commit: first });
    expect(local.output.projects).toHaveLength(3);
  });

  it('succeeds with zero projects when the repository has no forge configuration', async () => {
    const r = await repo({ 'README.md': '# nothing here\n' });
    const { output } = await discover({ source: r.dir });
    expect(output.projects).toEqual([]);
    expect(output.slots.every((s) => s.tasks.length === 0)).toBe(true);
    expect(output.warnings[0]).toMatch(/not a forge repository/);
  });

  it('writes every Argo output file, one per slot', async () => {
    const r = await repo(sampleRepo());
    const result = await discover({ source: r.dir, branch: 'main', slots: 3 });
    const dir = await mkdtemp(join(tmpdir(), 'forge-outputs-'));
    try {
      await writeArgoOutputs(dir, result.output, result.json);
      expect((await readdir(dir)).sort()).toEqual(
        ['discovery.json', 'group-1', 'group-2', 'group-3', 'group-count', 'project-count', 'release-projects', 'releases', 'summary.json'].sort(),
      );
      expect(await readFile(join(dir, 'project-count'), 'utf8')).toBe('3');
      expect(JSON.parse(await readFile(join(dir, 'group-3'), 'utf8'))).toEqual([]);
      expect(JSON.parse(await readFile(join(dir, 'group-2'), 'utf8'))[0]).toEqual({
        id: 'test-api', phase: 'test', project: 'api', path: 'services/api', group: 2, timeout: '20m', steps: 1,
      });
      expect(JSON.parse(await readFile(join(dir, 'release-projects'), 'utf8'))).toEqual(['api']);
      // What forge-pipeline's release stage fans out over.
      expect(JSON.parse(await readFile(join(dir, 'releases'), 'utf8'))).toEqual([{ project: 'api', path: 'services/api' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('discover: what git and the file system say', () => {
  it('respects .gitignore and skips symbolic links', async () => {
    const r = await repo(sampleRepo({ '.gitignore': 'scratch/\n' }), {
      symlinks: { 'linked/.forge': '../services/api/.forge' },
    });
    await mkdir(join(r.dir, 'scratch/.forge'), { recursive: true });
    await writeFile(join(r.dir, 'scratch/.forge/project.cue'), 'package project\nname: "scratch"\n');
    const { output } = await discover({ source: r.dir });
    expect(output.projects.map((p) => p.name).sort()).toEqual(['api', 'common', 'worker']);
  });

  it('skips a project.cue that is itself a symbolic link, with a warning', async () => {
    const r = await repo(sampleRepo(), { symlinks: { 'other/.forge/project.cue': '../../libs/common/.forge/project.cue' } });
    const { output } = await discover({ source: r.dir });
    expect(output.projects).toHaveLength(3);
    expect(output.warnings).toContain('other/.forge/project.cue: skipped (symbolic link)');
  });

  it('rejects a .forge nested in another .forge', async () => {
    const r = await repo(sampleRepo({ 'services/api/.forge/sub/.forge/project.cue': 'package project\nname: "nested"\n' }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('DISCOVERY_INVALID');
    expect(e.details[0]).toMatchObject({ file: 'services/api/.forge/sub/.forge/project.cue' });
  });

  it('refuses a path that is not in a git work tree', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-nogit-'));
    try {
      const e = await failure(discover({ source: dir }));
      expect(e.code).toBe('GIT_FAILED');
      expect(e.message).toMatch(/not inside a git work tree/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a commit that is not a full SHA, and one that does not exist', async () => {
    const r = await repo(sampleRepo());
    expect((await failure(discover({ source: r.dir, commit: 'abc123' }))).code).toBe('INVALID_ARGS');
    const e = await failure(discover({ source: `file://${r.dir}`, commit: 'f'.repeat(40) }));
    expect(e.code).toBe('GIT_FAILED');
    expect(e.message).toContain('ffffffff');
  });
});

describe('discover: invalid configuration names the file, line and column', () => {
  it('reports a misspelled field at its position', async () => {
    const r = await repo(
      sampleRepo({ 'libs/common/.forge/project.cue': 'package project\nname: "common"\nci: phases: lint: check: {action: "earthly", targt: "+lint"}\n' }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details).toContainEqual(
      expect.objectContaining({ file: 'libs/common/.forge/project.cue', line: 3, field: 'ci.phases.lint.check.targt', message: 'field not allowed' }),
    );
    expect(e.format()).toMatch(/libs\/common\/\.forge\/project\.cue:3:\d+: ci\.phases\.lint\.check\.targt: field not allowed/);
  });

  it('reports a syntax error at its position', async () => {
    const r = await repo(
      sampleRepo({
        'libs/common/.forge/project.cue': 'package project\nname: "common"\nci: phases: lint: {\n',
      }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details.map((d) => d.file)).toContain('libs/common/.forge/project.cue');
    expect(e.details.find((d) => d.file === 'libs/common/.forge/project.cue')).toMatchObject({ line: 3, message: expect.stringMatching(/expected/) });
  });

  it('reports all schema violations of several files in one run', async () => {
    const r = await repo(
      sampleRepo({
        'libs/common/.forge/project.cue': 'package project\nname: "Common"\n',
        'services/worker/.forge/project.cue': 'package project\nname: "worker"\nci: phases: lint: x: {action: "earthly", target: "lint"}\n',
      }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'libs/common/.forge/project.cue', line: 2, field: 'name' }),
        expect.objectContaining({ file: 'services/worker/.forge/project.cue', line: 3, field: 'ci.phases.lint.x.target' }),
      ]),
    );
  });

  it('reports a wrong package clause', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': 'package repo\nname: "common"\n' }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.details).toEqual([{ file: 'libs/common/.forge/project.cue', line: 1, column: 1, message: 'expected `package project`, found `package repo`' }]);
  });

  it('reports invalid repository settings in repo.cue', async () => {
    const r = await repo(sampleRepo({ '.forge/repo.cue': 'package repo\nforgeVersion: "1.0"\nphases: lint: {group: 0}\n' }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: '.forge/repo.cue', line: 2, field: 'forgeVersion' }),
        expect.objectContaining({ file: '.forge/repo.cue', line: 3, field: 'phases.lint.group' }),
      ]),
    );
  });
});

describe('discover: repository rules', () => {
  it('rejects duplicate project names, naming both files', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': 'package project\nname: "api"\nci: phases: lint: l: {action: "earthly", target: "+lint"}\n' }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('DISCOVERY_INVALID');
    expect(e.details).toContainEqual({ file: 'services/api/.forge/project.cue', field: 'name', message: 'project name "api" is already used by libs/common/.forge/project.cue' });
  });

  it('rejects a missing required phase, an undefined phase and an unknown publisher', async () => {
    const r = await repo(
      sampleRepo({
        'libs/common/.forge/project.cue': `package project
name: "common"
ci: phases: {test: t: {action: "earthly", target: "+test"}, deploy: d: {action: "earthly", target: "+deploy"}}
artifacts: lib: {type: "archive", producer: earthly: target: "+tar", publishers: s3: {}}
`,
      }),
    );
    const e = await failure(discover({ source: r.dir }));
    const messages = e.details.filter((d) => d.file === 'libs/common/.forge/project.cue').map((d) => `${d.field}: ${d.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'ci.phases: phase "lint" is required by .forge/repo.cue but the project defines no steps for it',
        expect.stringMatching(/^ci\.phases\.deploy: phase "deploy" is not defined in \.forge\/repo\.cue/),
        'artifacts.lib.publishers.s3: publisher "s3" is not defined in .forge/repo.cue',
      ]),
    );
  });

  it('rejects more phase groups than the platform has slots', async () => {
    const r = await repo(sampleRepo());
    const e = await failure(discover({ source: r.dir, slots: 1 }));
    expect(e.details[0]).toMatchObject({ file: '.forge/repo.cue', field: 'phases' });
    expect(e.details[0]!.message).toMatch(/2 phase groups .* at most 1/);
  });

  it('rejects an unsupported forgeVersion major', async () => {
    const r = await repo(sampleRepo({ '.forge/repo.cue': 'package repo\nforgeVersion: "v2.0.0"\n' }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('VERSION_MISMATCH');
  });

  it('rejects projects without a repository configuration', async () => {
    const files = sampleRepo();
    delete (files as Record<string, string | undefined>)['.forge/repo.cue'];
    const r = await repo(files);
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('NOT_A_FORGE_REPO');
  });

  it('rejects an invalid branch regular expression', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': 'package project\nname: "common"\nci: phases: lint: l: {action: "earthly", target: "+lint"}\nrelease: on: [{branch: "release/(["}]\n' }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.details[0]).toMatchObject({ file: 'libs/common/.forge/project.cue', field: 'release.on' });
  });

  it('refuses output over 1 MiB', async () => {
    const big = 'x'.repeat(40_000);
    const files = sampleRepo();
    for (let i = 0; i < 30; i++) {
      files[`p/${i}/.forge/project.cue`] = `package project\nname: "p${i}"\nci: phases: lint: l: {action: "script", target: "echo", args: ["${big}"]}\n`;
    }
    const r = await repo(files);
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('OUTPUT_TOO_LARGE');
    expect(e.message).toMatch(/over the 1 MiB limit/);
  });
});

describe('discover: a work tree in place', () => {
  it("takes the work tree's current branch when none is given", async () => {
    const r = await repo(sampleRepo());
    const { output } = await discover({ source: r.dir });
    expect(output.source.branch).toBe('main');
    expect(output.releaseProjects).toEqual(['api']);
    const other = await discover({ source: r.dir, branch: 'feature/x' });
    expect(other.output.releaseProjects).toEqual([]);
  });
});
