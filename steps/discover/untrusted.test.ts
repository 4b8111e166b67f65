import { afterEach, describe, expect, it } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { sampleRepo, tempRepos } from '../../test/helpers/git-repo.ts';
import { discover } from './discover.ts';

/**
 * Issue 8 case 9: a repository is hostile. Each attack runs through `discover` against real
 * `git` and `cue`, and must end in a refusal that names the file (and field or import), fast.
 */
const { repo, cleanup } = tempRepos();
afterEach(cleanup);

const lint = 'ci: phases: lint: l: {action: "earthly", target: "+lint"}\n';
const project = (name: string, extra = '') => `package project\nname: "${name}"\n${lint}${extra}`;

describe('untrusted repository: regular expressions run in linear time', () => {
  it('matches (a+)+b against a long branch name at once, on RE2', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': project('common', 'release: on: [{branch: "(a+)+b"}]\n') }));
    const started = performance.now();
    const { output } = await discover({ source: r.dir, branch: 'a'.repeat(250) });
    expect(performance.now() - started).toBeLessThan(10_000); // JavaScript's engine: hours
    expect(output.releaseProjects).toEqual([]);
    const hit = await discover({ source: r.dir, branch: `${'a'.repeat(200)}b` });
    expect(hit.output.releaseProjects).toEqual(['common']);
  });

  it('matches a --paths glob that backtracks in picomatch at once', async () => {
    const r = await repo(sampleRepo({ [`x/${'a'.repeat(60)}/.forge/project.cue`]: project('many-a') }));
    const started = performance.now();
    const { output } = await discover({ source: r.dir, paths: [`x/${'*a'.repeat(12)}*b`, 'libs/**'] });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(output.projects.map((p) => p.name)).toEqual(['common']);
  });

  it('refuses backreferences and lookaround, naming the file and field', async () => {
    const r = await repo(
      sampleRepo({
        'libs/common/.forge/project.cue': project('common', 'release: on: [{branch: "(a)\\\\1"}, {branch: "(?!main)"}]\n'),
      }),
    );
    const e = await failure(discover({ source: r.dir, branch: 'main' }));
    expect(e.code).toBe('DISCOVERY_INVALID');
    expect(e.format()).toContain('libs/common/.forge/project.cue: release.on: release trigger branch "(a)\\\\1" is refused: invalid escape sequence');
    expect(e.details.map((d) => d.message)).toContainEqual(expect.stringMatching(/^release trigger branch "\(\?!main\)" is refused: invalid or unsupported Perl syntax/));
  });

  it('refuses more than 32 release triggers', async () => {
    const on = Array.from({ length: 33 }, (_, i) => `{branch: "b${i}"}`).join(', ');
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': project('common', `release: on: [${on}]\n`) }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details).toEqual([expect.objectContaining({ file: 'libs/common/.forge/project.cue', line: 4, field: 'release.on' })]);
    expect(e.details[0]!.message).toMatch(/does not satisfy list\.MaxItems\(32\)\): len\(list\) > MaxItems\(32\) \(33 > 32\)$/);
  });

  it('refuses a branch pattern over 256 characters', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': project('common', `release: on: [{branch: "${'a'.repeat(300)}"}]\n`) }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details[0]).toMatchObject({ file: 'libs/common/.forge/project.cue', field: expect.stringMatching(/^release\.on/) });
  });
});

describe('untrusted repository: paths and names are validated and bounded', () => {
  it('refuses a project path with a newline and $(…), printed escaped', async () => {
    const r = await repo(sampleRepo({ 'svc/x\n$(touch pwned)/.forge/project.cue': project('evil') }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('DISCOVERY_INVALID');
    expect(e.details).toHaveLength(1);
    expect(e.details[0]!.file).toBe('svc/x\\n$(touch pwned)/.forge/project.cue');
    expect(e.details[0]!.message).toMatch(/^the path segment "x\\n\$\(touch pwned\)" has characters outside \[A-Za-z0-9._-\]/);
    expect(e.format()).not.toMatch(/x\n/);
  });

  it('refuses spaces, a leading "-", and paths too long or too deep', async () => {
    const deep = `${Array.from({ length: 17 }, (_, i) => `d${i}`).join('/')}/.forge/project.cue`;
    const long = `${'l'.repeat(200)}/${'m'.repeat(60)}/.forge/project.cue`;
    const r = await repo(
      sampleRepo({ 'a b/.forge/project.cue': project('ab'), '-rf/.forge/project.cue': project('rf'), [deep]: project('deep'), [long]: project('long') }),
    );
    const e = await failure(discover({ source: r.dir }));
    const byFile = Object.fromEntries(e.details.map((d) => [d.file, d.message]));
    expect(byFile['a b/.forge/project.cue']).toMatch(/segment "a b" has characters outside/);
    expect(byFile['-rf/.forge/project.cue']).toMatch(/or starts with "-"/);
    expect(byFile[deep]).toBe('the project directory is more than 16 levels deep');
    expect(byFile[long]).toBe('the path is longer than 255 characters');
  });

  it('refuses a name over 63 characters where the schema reads it', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': project('n'.repeat(64)) }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details).toContainEqual(expect.objectContaining({ file: 'libs/common/.forge/project.cue', line: 2, field: 'name' }));
  });

  it('refuses a branch or tag argument with control characters', async () => {
    const r = await repo(sampleRepo());
    const e = await failure(discover({ source: r.dir, branch: 'main\n$(id)' }));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toBe('--branch "main\\n$(id)" is refused: not a valid git ref name (control characters, spaces, ~ ^ : ? * [ \\, ".." and a leading "-" are not allowed)');
    expect((await failure(discover({ source: r.dir, tag: `v${'1'.repeat(300)}` }))).message).toMatch(/--tag .* longer than 255 characters/);
  });

  it('refuses more than 500 projects before evaluating any', async () => {
    const files = sampleRepo();
    for (let i = 0; i < 501; i++) files[`p/${i}/.forge/project.cue`] = project(`p${i}`);
    const r = await repo(files);
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('DISCOVERY_INVALID');
    expect(e.message).toMatch(/^the repository has 505 forge configuration files; discovery reads at most 500 projects per run/);
  });

  it('refuses a forge file over 128 KiB, naming it', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': `${project('common')}// ${'x'.repeat(132 * 1024)}\n` }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('DISCOVERY_INVALID');
    expect(e.details[0]).toMatchObject({ file: 'libs/common/.forge/project.cue', message: expect.stringMatching(/bytes, over the 128 KiB limit/) });
  });
});

describe('untrusted repository: no cross-project imports', () => {
  it("refuses an import of another project's package, by the module path discovery used to use", async () => {
    const r = await repo(
      sampleRepo({ 'libs/common/.forge/project.cue': 'package project\n\nimport other "forge.local/discover/f/2:project"\n\nname: other.name\n' + lint }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details).toEqual([
      {
        file: 'libs/common/.forge/project.cue',
        line: 3,
        column: 14,
        message:
          'import "forge.local/discover/f/2:project" is not allowed: a forge configuration file may import only CUE\'s standard library, not another package of the repository (another project\'s configuration) or a module',
      },
    ]);
  });

  it("refuses the repository's own module packages, registry modules, tool packages and file embedding", async () => {
    const r = await repo(
      sampleRepo({
        'cue.mod/module.cue': 'module: "example.com/repo"\nlanguage: version: "v0.14.0"\n',
        'services/worker/.forge/project.cue': `package project
import (
	api "example.com/repo/services/api/.forge:project"
	// a comment between imports
	"github.com/evil/mod@v0"
)
import "tool/exec"
name: "worker"
${lint}`,
        'libs/common/.forge/project.cue': `@extern(embed)\npackage project\nname: "common"\n${lint}`,
      }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.format().split('\n').slice(1)).toEqual([
      '  libs/common/.forge/project.cue:1:1: file attribute @extern(embed) is not allowed: forge configuration is one self-contained file (no @extern(embed), no @if)',
      expect.stringMatching(/^ {2}services\/worker\/\.forge\/project\.cue:3:6: import "example\.com\/repo\/services\/api\/\.forge:project" is not allowed/),
      expect.stringMatching(/^ {2}services\/worker\/\.forge\/project\.cue:5:2: import "github\.com\/evil\/mod@v0" is not allowed/),
      '  services/worker/.forge/project.cue:7:8: import "tool/exec" is not allowed: CUE\'s tool packages run commands and have no place in configuration',
    ]);
  });

  it('refuses an import hidden behind a declaration attribute', async () => {
    const r = await repo(
      sampleRepo({ 'libs/common/.forge/project.cue': 'package project\n@x()\nimport o "forge.local/discover/f/2:project"\nname: o.name\n' + lint }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.details).toEqual([expect.objectContaining({ file: 'libs/common/.forge/project.cue', line: 3, message: expect.stringMatching(/^import "forge\.local\/discover\/f\/2:project" is not allowed/) })]);
  });

  it('allows the standard library', async () => {
    const r = await repo(sampleRepo({ 'libs/common/.forge/project.cue': `package project\nimport "strings"\nname: strings.ToLower("COMMON")\n${lint}` }));
    const { output } = await discover({ source: r.dir });
    expect(output.projects.map((p) => p.name)).toContain('common');
  });

  it("a repository's cue.mod and CUE files cannot change what the shipped schema means", async () => {
    // The repository claims the module path discovery's own module once had, and ships an open
    // #Project in package forge: neither is seen, and a misspelled field is still refused.
    const r = await repo(
      sampleRepo({
        'cue.mod/module.cue': 'module: "forge.local/discover"\nlanguage: version: "v0.14.0"\n',
        'main.cue': 'package forge\n#Project: {...}\n',
        'schema.cue': 'package forge\n#Project: {...}\n',
        'libs/common/.forge/project.cue': `${project('common')}unknownField: 1\n`,
      }),
    );
    const e = await failure(discover({ source: r.dir }));
    expect(e.details).toContainEqual(expect.objectContaining({ file: 'libs/common/.forge/project.cue', field: 'unknownField', message: 'field not allowed' }));
  });
});

describe('untrusted repository: expansion bombs stop inside the memory limit', () => {
  // A 40-character string doubled 24 times: about 700 MB of JSON from a 600-byte file.
  const doubling = Array.from({ length: 25 }, (_, i) => (i === 0 ? `_a0: ["${'x'.repeat(40)}"]` : `_a${i}: [_a${i - 1}, _a${i - 1}]`));
  const bomb = `package project\nimport "list"\nname: "bomb"\n${doubling.join('\n')}
ci: phases: lint: l: {action: "script", target: "echo", args: list.FlattenN(_a24, -1)}\n`;

  it('names the one file that expands, among several', async () => {
    const r = await repo(sampleRepo({ 'services/bomb/.forge/project.cue': bomb }));
    const started = performance.now();
    const e = await failure(discover({ source: r.dir }));
    const seconds = (performance.now() - started) / 1000;
    expect(e.code).toBe('CUE_INVALID');
    expect(e.message).toBe('cue stopped at its 256 MiB memory limit evaluating the forge configuration: services/bomb/.forge/project.cue is refused');
    expect(e.details).toEqual([
      {
        file: 'services/bomb/.forge/project.cue',
        message:
          'evaluating this file alone needs more memory than the 256 MiB memory limit of cue allows: a small file that expands (a comprehension, a list or struct doubled again and again) is refused',
      },
    ]);
    expect(seconds).toBeLessThan(60);
  });

  it('names every file that expands alone, and only those', async () => {
    const r = await repo(sampleRepo({ 'services/bomb/.forge/project.cue': bomb, 'libs/bomb2/.forge/project.cue': bomb.replace('"bomb"', '"bomb-two"') }));
    const e = await failure(discover({ source: r.dir }));
    expect(e.message).toBe(
      'cue stopped at its 256 MiB memory limit evaluating the forge configuration: libs/bomb2/.forge/project.cue, services/bomb/.forge/project.cue are refused',
    );
    expect(e.details.map((d) => d.file)).toEqual(['libs/bomb2/.forge/project.cue', 'services/bomb/.forge/project.cue']);
  });
});
