import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../steps/build.ts';
import { createRepo, sampleRepo, type TempRepo } from '../helpers/git-repo.ts';

/** The step image runs the esbuild bundle, not the sources: it must work on its own. */
describe('step bundle (dist/bundles/forge.mjs)', () => {
  let file: string;
  let repo: TempRepo;
  beforeAll(async () => {
    ({ file } = await bundle());
    repo = await createRepo(sampleRepo());
  });
  afterAll(() => repo.cleanup());

  it('lists its commands', async () => {
    const { stdout } = await execa('node', [file]);
    expect(stdout).toMatch(/discover\s+find and validate projects/);
  });

  it('discovers a repository with the schema next to it', async () => {
    const { stdout } = await execa('node', [file, 'discover', '--repo-url', `file://${repo.dir}`, '--commit', repo.commit, '--output', 'json'], {
      env: { FORGE_CUE_SCHEMA: join(file, '..', 'forge.cue') },
    });
    const out = JSON.parse(stdout);
    expect(out.source.commit).toBe(repo.commit);
    expect(out.projects).toHaveLength(3);
  });

  it('exits 2 on a bad option and 1 on a bad repository', async () => {
    const bad = await execa('node', [file, 'discover', '--no-such-option'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/INVALID_ARGS/);
    const missing = await execa('node', [file, 'discover', '--repo-url', `file://${repo.dir}-missing`], { reject: false });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/GIT_FAILED: cannot fetch HEAD from file:\/\//);
  });
});
