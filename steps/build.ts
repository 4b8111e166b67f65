/**
 * `npm run build`: bundles the step tools for the step image (dist/bundles/forge.mjs, and one
 * chunk per command beside it) next to what it reads at run time: the CUE schema (forge.cue), the
 * records' migrations and PGlite's WebAssembly.
 * The image runs `forge <command>` with FORGE_CUE_SCHEMA pointing at the schema.
 * Also the GitHub Action's bundle, action/index.mjs (committed: see bundleAction).
 */
import { copyFile, cp, mkdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundles`;

export async function bundle(): Promise<{ file: string; bytes: number }> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { forge: `${root}steps/cli.ts` },
    outdir,
    outExtension: { '.js': '.mjs' },
    // One chunk per command (steps/cli.ts imports each lazily): a dispatcher pod parses the
    // dispatcher and NATS, not PGlite, cosign's wrappers and the rest.
    splitting: true,
    // Beside forge.mjs: the tools find forge.cue, the migrations and PGlite's files next to their module.
    chunkNames: '[name]-[hash]',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    legalComments: 'linked',
    define: { 'process.env.FORGE_CLI_MAIN': '"1"', FORGE_BUNDLE: 'true' },
    // Some CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __forgeRequire } from 'node:module'; const require = __forgeRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  await copyFile(`${root}steps/lib/cue/forge.cue`, `${outdir}/forge.cue`);
  // The records' SQL migrations and PGlite's WebAssembly, both looked up next to the bundle.
  await cp(`${root}steps/lib/records/migrations`, `${outdir}/migrations`, { recursive: true });
  const pglite = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  for (const asset of ['pglite.wasm', 'pglite.data', 'initdb.wasm']) await copyFile(`${pglite}/${asset}`, `${outdir}/${asset}`);
  const file = `${outdir}/forge.mjs`;
  return { file, bytes: (await stat(file)).size };
}

export const actionBundle = `${root}action/index.mjs`;

/**
 * The GitHub Action's entry (steps/action/main.ts with @actions/core and the Argo Server client) as
 * one self-contained file. GitHub runs the file committed at the referenced tag and installs no
 * dependencies, so this output is committed; test/bundle/action.test.ts rebuilds it and fails
 * when the committed file differs from the sources. Minified so the output carries no local paths
 * (esbuild's per-module path comments) and is byte-identical on every machine with the same lock.
 */
export async function bundleAction(outfile = actionBundle): Promise<{ file: string; bytes: number }> {
  await build({
    entryPoints: [`${root}steps/action/main.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    // action.yml says node20; the bundle runs unchanged on node24 (see docs/github-action.md).
    target: 'node20',
    format: 'esm',
    minify: true,
    legalComments: 'eof',
    define: { 'process.env.FORGE_ACTION_MAIN': '"1"', FORGE_BUNDLE: 'true' },
    banner: { js: "import { createRequire as __forgeRequire } from 'node:module'; const require = __forgeRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return { file: outfile, bytes: (await stat(outfile)).size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { file, bytes } of [await bundle(), await bundleAction()]) process.stdout.write(`${file}: ${(bytes / 1024).toFixed(0)} KiB\n`);
}
