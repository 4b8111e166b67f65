/**
 * images/toolchain/go-local-module.mjs (plain Node, run here as its users run it): a local copy of
 * the real Argo module the toolchain pins, with the files its module zip lacks put back — the
 * repair that lets argo ≥ 3.7 and argoexec compile. Uses the real `go mod download` (the module
 * is in the Go module cache once `npm run tools:install` has built the argo CLI).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import tools from '../../images/toolchain/tools.json' with { type: 'json' };

const helper = fileURLToPath(new URL('../../images/toolchain/go-local-module.mjs', import.meta.url));
const argo = tools.go.argo;
const work = mkdtempSync(join(tmpdir(), 'forge-local-module-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Calls localModuleCopy in a separate node process; its JSON result or its error message. */
async function copy(opts: Record<string, unknown>): Promise<{ dir?: string; repaired?: string[]; error?: string }> {
  const script = `import(${JSON.stringify(helper)}).then((m) => m.localModuleCopy(${JSON.stringify(opts)})).then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ error: e.message })))`;
  const r = await execa(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000 });
  return JSON.parse(r.stdout) as { dir?: string; repaired?: string[]; error?: string };
}

describe('go-local-module: a repaired local copy of a Go module', () => {
  const restoreFiles = { 'workflow/executor/osspecific/signal_linux.go': 'signal_darwin.go' };
  const createFiles = argo.localModule.createFiles;

  it('restores files kept as symbolic links upstream and creates the ones not in git, once', async () => {
    const dir = join(work, 'argo');
    const first = await copy({ modulePath: argo.localModule.path, version: argo.version, dir, restoreFiles, createFiles });
    expect(first.error).toBeUndefined();
    expect(first.repaired).toEqual([
      'workflow/executor/osspecific/signal_linux.go (a symbolic link to signal_darwin.go upstream; module zips omit symbolic links)',
      'ui/dist/app/index.html (not in the module: created)',
    ]);
    const module = join(dir, 'module');
    expect(readFileSync(join(module, 'workflow/executor/osspecific/signal_linux.go'), 'utf8')).toBe(readFileSync(join(module, 'workflow/executor/osspecific/signal_darwin.go'), 'utf8'));
    expect(readFileSync(join(module, 'ui/dist/app/index.html'), 'utf8')).toBe(createFiles['ui/dist/app/index.html']);
    expect(readFileSync(join(module, 'go.mod'), 'utf8')).toMatch(/^module github\.com\/argoproj\/argo-workflows\/v4$/m);
    // the same request again reuses the copy
    expect((await copy({ modulePath: argo.localModule.path, version: argo.version, dir, restoreFiles, createFiles })).repaired).toEqual([]);
  });

  it('refuses a file that would land outside the copy, naming it', async () => {
    const dir = join(work, 'escape');
    const r = await copy({ modulePath: argo.localModule.path, version: argo.version, dir, createFiles: { '../../outside.txt': 'x' } });
    expect(r.error).toBe('../../outside.txt: not a path inside the module');
    expect(existsSync(join(work, 'outside.txt'))).toBe(false);
  });

  it('names the module and version the proxy does not serve', async () => {
    const r = await copy({ modulePath: argo.localModule.path, version: 'v4.0.999', dir: join(work, 'missing') });
    expect(r.error).toMatch(/^go mod download github\.com\/argoproj\/argo-workflows\/v4@v4\.0\.999 failed: /);
  });
});
