import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionBundle, bundleAction } from '../../steps/build.ts';

/**
 * GitHub runs the action's committed file (action/index.mjs) and installs nothing: the committed
 * bundle must be what the sources build to. A change to steps/action, steps/lib or the locked
 * dependencies without `npm run build` and a commit of action/index.mjs fails here.
 */
describe('the GitHub Action bundle (action/index.mjs)', () => {
  it('is committed and identical to a fresh build of the sources', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-action-bundle-'));
    try {
      const { file, bytes } = await bundleAction(join(dir, 'index.mjs'));
      const fresh = await readFile(file, 'utf8');
      const committed = await readFile(actionBundle, 'utf8').catch(() => '');
      expect(committed.length, 'action/index.mjs is missing: run npm run build and commit it').toBeGreaterThan(0);
      // Not toBe (a 500 KB diff helps nobody): say what to do.
      expect(committed === fresh, `action/index.mjs (${committed.length} bytes) differs from a fresh build (${bytes} bytes): run npm run build and commit action/index.mjs`).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
