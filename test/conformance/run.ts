/**
 * `npm run conformance`: checks the synthesized manifests against what the outside world expects
 * (Argo's schema, the argo CLI's linter, the security rules), using the data in ../shared
 * (FORGE_SHARED_DIR overrides). Runs after `npm test` in CI.
 *
 * 1. `npm run synth` for every variant in manifests.ts (the example config into dist/manifests/,
 *    and a digest-pinned config without an artifact repository into a scratch directory).
 * 2. Every suite in `SUITES`, in order, over every manifest set.
 * 3. One line per check, details under failures, `conformance: N passed, M failed`; exit 1 on any
 *    failure.
 *
 * Adding a suite: write `suites/<name>.ts` exporting a `Suite` (see suite.ts) and list it in
 * `SUITES`. Suites read fixtures from `ctx.sharedDir` (e.g. `fixtures/trivy/` golden reports for
 * the scan gate, `fixtures/cosign/containers-image/` signatures for verification) and the
 * manifests from `ctx.manifestSets`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isForgeError } from '../../steps/lib/errors.ts';
import { synthVariant, VARIANTS } from './manifests.ts';
import { fail, pass, type Check, type ConformanceContext, type ManifestSet, type Suite } from './suite.ts';
import { argoLintSuite } from './suites/argo-lint.ts';
import { cosignSuite } from './suites/cosign.ts';
import { schemaSuite } from './suites/schema.ts';
import { securitySuite } from './suites/security.ts';
import { trivySuite } from './suites/trivy.ts';

/** The suites, in the order they run. Later: `trivy-golden` (fixtures/trivy), `cosign-vectors` (fixtures/cosign). */
export const SUITES: Suite[] = [schemaSuite, argoLintSuite, securitySuite, trivySuite, cosignSuite];

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function print(check: Check): void {
  const summary = check.summary ? ` (${check.summary})` : '';
  process.stdout.write(`${check.ok ? '✓' : '✗'} ${check.suite} ${check.target}${summary}\n`);
  if (!check.ok) for (const d of check.details) process.stdout.write(`    ${d.replace(/\n/g, '\n    ')}\n`);
}

function errorText(e: unknown): string {
  if (isForgeError(e)) return e.format();
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<number> {
  const sharedDir = resolve(process.env.FORGE_SHARED_DIR ?? join(repoRoot, '..', 'shared'));
  if (!existsSync(sharedDir)) {
    process.stderr.write(
      `conformance: the shared data directory ${sharedDir} does not exist.\n` +
        'Conformance checks need it (Argo schema, Trivy and cosign fixtures): check out ../shared beside the repository, ' +
        'or set FORGE_SHARED_DIR to its path.\n',
    );
    return 1;
  }

  const tmpDir = await mkdtemp(join(tmpdir(), 'forge-conformance-'));
  const checks: Check[] = [];
  const record = (c: Check): void => {
    checks.push(c);
    print(c);
  };

  const manifestSets: ManifestSet[] = [];
  for (const variant of VARIANTS) {
    try {
      const r = await synthVariant(variant, repoRoot, tmpDir);
      const target = r.set ? `${variant.name} → ${r.set.dir.startsWith(repoRoot) ? r.set.dir.slice(repoRoot.length) : r.set.dir}` : variant.name;
      const summary = r.set ? `${variant.description}; ${r.set.files.length} file(s)` : variant.description;
      record(r.ok ? pass('synth', target, summary) : fail('synth', target, summary, [...r.problems, ...(r.output ? [r.output] : [])]));
      if (r.set) manifestSets.push(r.set);
    } catch (e) {
      record(fail('synth', variant.name, variant.description, [errorText(e)]));
    }
  }

  const ctx: ConformanceContext = { repoRoot, sharedDir, tmpDir, manifestSets };
  for (const suite of SUITES) {
    try {
      for (const c of await suite.run(ctx)) record(c);
    } catch (e) {
      record(fail(suite.name, '(suite)', suite.description, [errorText(e)]));
    }
  }

  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(`conformance: ${checks.length - failed} passed, ${failed} failed\n`);
  if (failed === 0) await rm(tmpDir, { recursive: true, force: true });
  else process.stdout.write(`(scratch files kept in ${tmpDir})\n`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
