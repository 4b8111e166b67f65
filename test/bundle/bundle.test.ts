import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
  afterAll(() => repo?.cleanup());

  it('lists its commands', async () => {
    const { stdout } = await execa('node', [file]);
    expect(stdout).toMatch(/discover\s+find and validate projects/);
  });

  it('discovers a repository with the schema found next to it', async () => {
    const { stdout } = await execa('node', [file, 'discover', '--repo-url', `file://${repo.dir}`, '--commit', repo.commit, '--output', 'json']);
    const out = JSON.parse(stdout);
    expect(out.source.commit).toBe(repo.commit);
    expect(out.projects).toHaveLength(3);
  });

  it('records a promotion in embedded PGlite with the migrations and WebAssembly next to it', async () => {
    const state = await mkdtemp(join(tmpdir(), 'forge-bundle-state-'));
    try {
      const digest = `sha256:${'c'.repeat(64)}`;
      const args = [file, 'record', '--trusted-reference', `trusted.example/team/app@${digest}`, '--source-reference', `incoming.example/team/app@${digest}`, '--state-dir', state, '--output', 'json'];
      const first = JSON.parse((await execa('node', args, { env: { FORGE_DATABASE_URL: '' } })).stdout);
      const again = JSON.parse((await execa('node', args, { env: { FORGE_DATABASE_URL: '' } })).stdout);
      expect(first.created).toBe(true);
      expect(again).toMatchObject({ id: first.id, created: false });
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  }, 120_000);

  it('exits 2 on a bad option and 1 on a bad repository', async () => {
    const bad = await execa('node', [file, 'discover', '--no-such-option'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/INVALID_ARGS/);
    const missing = await execa('node', [file, 'discover', '--repo-url', `file://${repo.dir}-missing`], { reject: false });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/GIT_FAILED: cannot fetch HEAD from file:\/\//);
  });
});
