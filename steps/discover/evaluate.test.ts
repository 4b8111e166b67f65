import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CueFailure, cueExport } from '../lib/cue.ts';
import { mainFile, writeModule } from './evaluate.ts';

/**
 * The second line of defence behind the header check (steps/discover/sources.ts): even a file
 * whose import slipped past it cannot reach another project's package, because the module path
 * is random per run, or a registry module, because none is fetched.
 */
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function evaluate(projects: string[]): Promise<{ module: string; error: unknown }> {
  const work = await mkdtemp(join(tmpdir(), 'forge-cue-module-'));
  dirs.push(work);
  const files = ['.forge/repo.cue', ...projects.map((_, i) => `p${i}/.forge/project.cue`)];
  const module = await writeModule(work, files, ['package repo\nforgeVersion: "v1.0.0"\n', ...projects]);
  await writeFile(join(work, 'main.cue'), mainFile(module, files.map((_, i) => i)));
  const error = await cueExport({ cwd: work }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { module, error };
}

describe('the evaluation module', () => {
  it('has a module path no repository can predict', async () => {
    const a = await evaluate(['package project\nname: "a"\n']);
    const b = await evaluate(['package project\nname: "a"\n']);
    expect(a.error).toBeUndefined();
    expect(a.module).toMatch(/^forge\.local\/discover-[0-9a-f]{16}$/);
    expect(a.module).not.toBe(b.module);
  });

  it("does not resolve another project's package or a registry module, even unchecked", async () => {
    const { error } = await evaluate([
      'package project\n@x()\nimport o "forge.local/discover/f/2:project"\nname: o.name\n',
      'package project\nname: "b"\n',
    ]);
    expect(error).toBeInstanceOf(CueFailure);
    expect((error as CueFailure).stderr).toMatch(/cannot find module providing package forge\.local\/discover\/f\/2:project/);
    const external = await evaluate(['package project\nimport m "example.com/mod@v0"\nname: m.name\n']);
    expect((external.error as CueFailure).stderr).toMatch(/cannot find module providing package example\.com\/mod@v0/);
  });
});
