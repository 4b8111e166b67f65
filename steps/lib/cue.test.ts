import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CueFailure, CueLimitExceeded, cueExport, parseCueDiagnostics } from './cue.ts';

describe('parseCueDiagnostics', () => {
  it('splits field paths, messages and positions, quoted labels included', () => {
    const stderr = [
      'projects."1".x: field not allowed:',
      '    ./f/1/project.cue:3:1',
      'projects."2".name: invalid value "A b" (out of bound =~"^[a-z]"):',
      '    ./schema.cue:10:8',
      '    ./f/2/project.cue:2:7',
      'expected \'}\', found \'EOF\':',
      '    ./f/3/project.cue:4:1',
    ].join('\n');
    expect(parseCueDiagnostics(stderr)).toEqual([
      { path: 'projects."1".x', message: 'field not allowed', positions: [{ file: './f/1/project.cue', line: 3, column: 1 }] },
      {
        path: 'projects."2".name',
        message: 'invalid value "A b" (out of bound =~"^[a-z]")',
        positions: [
          { file: './schema.cue', line: 10, column: 8 },
          { file: './f/2/project.cue', line: 2, column: 7 },
        ],
      },
      { path: '', message: "expected '}', found 'EOF'", positions: [{ file: './f/3/project.cue', line: 4, column: 1 }] },
    ]);
  });
});

describe('cueExport within limits (real cue)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-cue-limits-'));
    await mkdir(join(dir, 'cue.mod'));
    await writeFile(join(dir, 'cue.mod', 'module.cue'), 'module: "forge.local/limits"\nlanguage: version: "v0.14.0"\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = (text: string) => writeFile(join(dir, 'x.cue'), `package x\n${text}\n`);
  // A 40-character string doubled 24 times: ~700 MB of JSON.
  const bomb = `import "list"\n${Array.from({ length: 25 }, (_, i) => (i === 0 ? `_a0: ["${'x'.repeat(40)}"]` : `_a${i}: [_a${i - 1}, _a${i - 1}]`)).join('\n')}\nout: list.FlattenN(_a24, -1)`;
  const limitOf = (p: Promise<unknown>) =>
    p.then(
      () => 'none',
      (e: unknown) => (e instanceof CueLimitExceeded ? e.limit : String(e)),
    );

  it('exports within the defaults', async () => {
    await write('a: 1');
    expect(await cueExport({ cwd: dir })).toEqual({ a: 1 });
  });

  it('stops a value that expands past the memory limit', async () => {
    await write(bomb);
    const started = performance.now();
    expect(await limitOf(cueExport({ cwd: dir, memoryBytes: 160 * 1024 * 1024 }))).toBe('memory');
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('stops at the time limit when memory would allow more', async () => {
    await write(bomb);
    expect(await limitOf(cueExport({ cwd: dir, memoryBytes: 8 * 1024 * 1024 * 1024, timeoutMs: 300 }))).toBe('time');
  });

  it('reads the output with a cap', async () => {
    await write('import "strings"\nbig: strings.Repeat("a", 200000)');
    expect(await limitOf(cueExport({ cwd: dir, outputBytes: 64 * 1024 }))).toBe('output');
    expect(await limitOf(cueExport({ cwd: dir }))).toBe('none');
  });

  it("fetches no module, whatever the caller's CUE_REGISTRY says", async () => {
    await write('import "example.com/mod@v0"\na: mod.x');
    const saved = process.env.CUE_REGISTRY;
    process.env.CUE_REGISTRY = 'registry.invalid';
    try {
      const e = await cueExport({ cwd: dir }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(CueFailure);
      expect((e as CueFailure).stderr).toMatch(/cannot find module providing package example\.com\/mod@v0/);
      expect((e as CueFailure).stderr).not.toMatch(/registry\.invalid/);
    } finally {
      if (saved === undefined) delete process.env.CUE_REGISTRY;
      else process.env.CUE_REGISTRY = saved;
    }
  });
});

describe('parseCueDiagnostics on hostile text', () => {
  it('reads a long line of colons and digits in linear time, truncated', () => {
    const line = `  ${':1'.repeat(200_000)}`;
    const started = performance.now();
    const out = parseCueDiagnostics(`x: bad:\n${line}\n`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(out[1]!.message.length).toBeLessThanOrEqual(4097);
  });
});
