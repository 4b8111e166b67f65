/**
 * Suite `trivy`: Trivy's own golden reports (`../shared/fixtures/trivy/`, from
 * aquasecurity/trivy `integration/testdata/*.json.golden`, Apache-2.0) through the scan gate with
 * the default policy (HIGH and CRITICAL block, unfixed ones too, no exceptions) and through the
 * promotion policy's non-root check on `Metadata.ImageConfig.config.User`. One check per report;
 * it passes when both outcomes are the expected ones.
 *
 * alpine-39-skip is the same alpine:3.9 image as alpine-39-high-critical, scanned with its
 * findings skipped: no Results (clean), but its image config is in the report and sets no User,
 * so the non-root check applies and fails (an image without USER runs as root). The check is "not
 * applicable" only for a report without any image config.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isForgeError } from '../../../steps/lib/errors.ts';
import { checkUser } from '../../../steps/policy/checks.ts';
import { evaluateScan } from '../../../steps/scan/gate.ts';
import { hasImageConfig, imageUser, parseTrivyReport } from '../../../steps/scan/report.ts';
import { fail, pass, type Check, type Suite } from '../suite.ts';

type Outcome = 'pass' | 'fail';

interface Expectation {
  name: string;
  /** `not-an-image`: the report must be refused before any gate runs. */
  scan: Outcome | 'not-an-image';
  /** Expected non-root outcome; `n/a` when the report carries no image config. */
  nonRoot?: Outcome | 'n/a';
  /** The vulnerability ids that must block (when the scan fails). */
  blocking?: string[];
}

export const TRIVY_GOLDEN: Expectation[] = [
  { name: 'alpine-39-high-critical', scan: 'fail', nonRoot: 'fail', blocking: ['CVE-2019-14697'] },
  { name: 'mariner-1.0', scan: 'fail', nonRoot: 'fail', blocking: ['CVE-2022-0261'] },
  { name: 'alpine-distroless', scan: 'pass', nonRoot: 'pass' },
  { name: 'alpine-39-skip', scan: 'pass', nonRoot: 'fail' },
  { name: 'centos-7-medium', scan: 'pass', nonRoot: 'fail' },
  { name: 'ubuntu-gp2-x86-vm', scan: 'not-an-image' },
];

const SUITE = 'trivy';

async function runOne(dir: string, e: Expectation): Promise<Check> {
  const file = join(dir, `${e.name}.json`);
  const label = `${e.name}.json`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return fail(SUITE, e.name, 'golden report missing', [`cannot read ${file}: ${(err as Error).message}`]);
  }

  let report;
  try {
    report = parseTrivyReport(text, label);
  } catch (err) {
    const message = isForgeError(err) ? err.message : String(err);
    if (e.scan === 'not-an-image' && /is not an image report/.test(message)) return pass(SUITE, e.name, `rejected as expected: ${message}`);
    return fail(SUITE, e.name, 'report refused', [`expected the scan to ${e.scan}, but parsing refused the report: ${message}`]);
  }
  if (e.scan === 'not-an-image') return fail(SUITE, e.name, 'report accepted', [`expected "${label}" to be refused as not an image report (ArtifactType ${report.ArtifactType ?? 'missing'})`]);

  const problems: string[] = [];
  const result = evaluateScan(report);
  const scanOutcome: Outcome = result.passed ? 'pass' : 'fail';
  if (scanOutcome !== e.scan) problems.push(`scan: expected ${e.scan}, got ${scanOutcome}: ${result.message}`);
  const ids = [...new Set(result.blocking.map((f) => f.id))];
  if (e.blocking && ids.join(',') !== e.blocking.join(',')) problems.push(`blocking ids: expected ${e.blocking.join(', ')}, got ${ids.join(', ') || 'none'}`);
  const scanText = result.passed
    ? `scan pass: ${result.summary.total} finding${result.summary.total === 1 ? '' : 's'}, none at or above ${result.threshold}`
    : `scan fail: ${result.blocking.length} at or above ${result.threshold} — ${ids.join(', ')}`;

  const applicable = hasImageConfig(report);
  const user = checkUser(imageUser(report));
  const nonRootOutcome: Outcome | 'n/a' = applicable ? (user.passed ? 'pass' : 'fail') : 'n/a';
  if (nonRootOutcome !== e.nonRoot) problems.push(`non-root: expected ${e.nonRoot}, got ${nonRootOutcome} (${user.actual})`);
  const userText = applicable ? `non-root ${nonRootOutcome}: ${user.actual}` : 'non-root n/a: no image config in the report';

  const summary = `${scanText}; ${userText}`;
  return problems.length === 0 ? pass(SUITE, e.name, summary) : fail(SUITE, e.name, summary, problems);
}

export const trivySuite: Suite = {
  name: SUITE,
  description: "Trivy's golden reports through the scan gate (default policy) and the non-root check",
  async run(ctx) {
    const dir = join(ctx.sharedDir, 'fixtures', 'trivy');
    const checks: Check[] = [];
    for (const e of TRIVY_GOLDEN) checks.push(await runOne(dir, e));
    return checks;
  },
};
