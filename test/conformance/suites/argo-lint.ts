/**
 * Suite `argo-lint`: the real argo CLI, `argo lint --offline`, over all Argo objects of one
 * manifest set in one invocation. Files that mix Argo and other kinds are linted from a copy that
 * holds only the Argo objects (names in argo's messages are mapped back).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { isArgoObject } from '../../security/security.ts';
import { argoLintOffline } from '../argo-lint.ts';
import { countKinds, fail, pass, type Check, type ConformanceContext, type ManifestSet, type Suite } from '../suite.ts';

async function lintSet(set: ManifestSet, ctx: ConformanceContext): Promise<Check[]> {
  // lint input path → [file label, Argo objects]
  const inputs = new Map<string, { label: string; argo: unknown[] }>();
  for (const file of set.files) {
    const argo = file.docs.map((d) => d.object).filter(isArgoObject);
    if (argo.length === 0) continue;
    let input = file.path;
    if (argo.length !== file.docs.length) {
      const dir = join(ctx.tmpDir, 'argo-lint', set.name);
      await mkdir(dir, { recursive: true });
      input = join(dir, basename(file.path));
      await writeFile(input, argo.map((o) => stringify(o)).join('---\n'));
    }
    inputs.set(input, { label: file.label, argo });
  }
  if (inputs.size === 0) return [fail('argo-lint', set.name, 'nothing to lint', [`no Argo objects in ${set.dir}`])];

  const result = await argoLintOffline([...inputs.keys()]);
  const checks: Check[] = [];
  for (const [input, { label, argo }] of inputs) {
    const problems = result.byFile.get(input) ?? [];
    if (problems.length > 0) checks.push(fail('argo-lint', label, countKinds(argo), problems));
    else if (result.exitCode === 0 && result.clean) checks.push(pass('argo-lint', label, countKinds(argo)));
    else checks.push(fail('argo-lint', label, countKinds(argo), [`argo lint exited ${result.exitCode}${result.clean ? '' : ' without "no linting errors found"'}`, ...result.general, `command: ${result.command}`]));
  }
  const attributed = [...result.byFile.values()].some((p) => p.length > 0);
  if (attributed && result.general.length > 0) {
    checks.push(fail('argo-lint', `${set.name} (whole invocation)`, `exit ${result.exitCode}`, [...result.general, `command: ${result.command}`]));
  }
  return checks;
}

export const argoLintSuite: Suite = {
  name: 'argo-lint',
  description: 'argo lint --offline over every manifest set (real argo CLI, pinned in images/toolchain/tools.json)',
  async run(ctx) {
    const checks: Check[] = [];
    for (const set of ctx.manifestSets) checks.push(...(await lintSet(set, ctx)));
    return checks;
  },
};
