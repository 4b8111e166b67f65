import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { writeOutput } from '../lib/argo-io.ts';
import { parseToolArgs, runMain } from '../lib/cli.ts';
import { loadPromotionSettings, pick } from '../lib/promotion-settings.ts';
import { ForgeError, isForgeError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { findExecutable } from '../lib/tools.ts';
import { parseReference } from '../lib/reference.ts';
import { loadExceptions } from './exceptions.ts';
import { DEFAULT_THRESHOLD, describeFinding, evaluateScan, scanSummary, type ScanResult } from './gate.ts';
import { parseTrivyReport, readReport, SEVERITIES, type TrivyReport } from './report.ts';

export const usage = `Usage: forge scan (--report FILE | --image REF) [options]

The scan gate of verify-and-promote: reads a Trivy image report and fails (exit 1) when a
vulnerability at or above the threshold is not covered by a valid exception, or when an
exception that would cover one has expired.

Options (each may also come from FORGE_<OPTION>, e.g. FORGE_THRESHOLD):
  --report FILE        Trivy JSON report (\`trivy image --format json --output FILE <image>\`)
  --image REF          with --report: binds the report to this image's digest; without one:
                       run \`trivy image --format json --quiet REF\` (needs trivy on PATH or
                       FORGE_TOOL_TRIVY, and access to trivy's vulnerability database)
  --digest DIGEST      the report must be about this manifest digest (default: the digest of
                       --image when it has one)
  --threshold SEV      lowest blocking severity: CRITICAL, HIGH (default), MEDIUM, LOW, UNKNOWN
  --ignore-unfixed     let vulnerabilities without a fix through
  --exceptions FILE    YAML or JSON list of exceptions (id, package?, reason, expires)
  --output FORMAT      text (default) or json (the full result)
  --outputs-dir DIR    also write Argo output files: scan-summary.json, passed
`;

export const options = {
  report: { type: 'string' },
  image: { type: 'string' },
  digest: { type: 'string' },
  threshold: { type: 'string' },
  'ignore-unfixed': { type: 'boolean' },
  exceptions: { type: 'string' },
  'scan-policy': { type: 'string' },
  settings: { type: 'string' },
  output: { type: 'string' },
  'outputs-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Empty strings are how Argo passes "not set" for optional parameters. */
const optional = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const schema = z.object({
  report: optional,
  image: optional,
  digest: optional,
  threshold: z.preprocess((v) => (typeof v === 'string' && v !== '' ? v.toUpperCase() : undefined), z.enum(SEVERITIES).default(DEFAULT_THRESHOLD)),
  'ignore-unfixed': z.boolean().default(false),
  exceptions: optional,
  'scan-policy': optional,
  settings: optional,
  output: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['text', 'json']).default('text')),
  'outputs-dir': optional,
  help: z.boolean().optional(),
});

export async function main(argv: string[]): Promise<void> {
  const log = createLogger('scan');
  await runMain(log, async () => {
    const { values } = parseToolArgs(argv, options, schema);
    if (values.help) {
      process.stdout.write(usage);
      return;
    }
    const outputsDir = values['outputs-dir'];
    let written = false;
    try {
      if (!values.report && !values.image) throw new ForgeError('INVALID_ARGS', 'give --report FILE (a Trivy JSON report) or --image REF (to run trivy)');
      const imageDigest = values.image ? parseReference(values.image).digest : undefined;
      if (values.digest && imageDigest && values.digest !== imageDigest) {
        throw new ForgeError('INVALID_ARGS', `--digest ${values.digest} differs from the digest of --image ${values.image}`);
      }
      const digest = values.digest ?? imageDigest;
      const named = values['scan-policy']
        ? pick((await loadPromotionSettings(values.settings)).scanPolicies, values['scan-policy'], 'scan policy')
        : undefined;
      const exceptions = [...(named?.exceptions ?? []), ...(values.exceptions ? await loadExceptions(values.exceptions) : [])];
      const report = values.report ? await readReport(values.report) : await scanImage(values.image!);
      const result = evaluateScan(report, {
        threshold: named?.threshold ?? values.threshold,
        ignoreUnfixed: named?.ignoreUnfixed ?? values['ignore-unfixed'],
        exceptions,
        ...(digest ? { digest } : {}),
      });
      log.info({ passed: result.passed, summary: result.summary, blocking: result.blocking.length }, result.message);
      if (outputsDir) await writeScanOutputs(outputsDir, result);
      written = true;
      process.stdout.write(values.output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result, digest));
      if (!result.passed) throw new ForgeError('SCAN_BLOCKED', result.message);
    } catch (e) {
      // A refused report still leaves the Argo outputs in place: the gate did not pass.
      if (outputsDir && isForgeError(e) && !written) await writeFailureOutputs(outputsDir, e).catch(() => undefined);
      throw e;
    }
  });
}

/** `FORGE_TOOL_TRIVY`, then PATH. Trivy is not part of the pinned toolchain: it cannot be installed here. */
export function findTrivy(): string | undefined {
  return findExecutable('trivy');
}

/** Runs the real `trivy image --format json --quiet <ref>` (argument vector, no shell) and parses its report. */
export async function scanImage(ref: string): Promise<TrivyReport> {
  const trivy = findTrivy();
  if (!trivy) {
    throw new ForgeError(
      'TOOL_MISSING',
      "trivy is not installed here, and trivy's vulnerability database cannot be downloaded on these machines: " +
        'pass --report FILE with a Trivy JSON report produced where trivy runs (`trivy image --format json --output FILE ' +
        `${ref}\`), or set FORGE_TOOL_TRIVY to a trivy binary that has its database`,
    );
  }
  const args = ['image', '--format', 'json', '--quiet', ref];
  const r = await execa(trivy, args, { reject: false, stdin: 'ignore', timeout: 1_800_000, maxBuffer: 512 * 1024 * 1024 });
  if (r.timedOut) throw new ForgeError('TOOL_FAILED', `trivy ${args.join(' ')} timed out after 30 minutes`);
  if (r.exitCode !== 0) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new ForgeError('TOOL_FAILED', `trivy ${args.join(' ')} failed (exit ${r.exitCode ?? r.signal ?? '?'}): ${tail || 'no output'}`);
  }
  return parseTrivyReport(r.stdout, `trivy image ${ref}`);
}

export async function writeScanOutputs(dir: string, result: ScanResult): Promise<void> {
  await Promise.all([
    writeOutput(join(dir, 'scan-summary.json'), JSON.stringify(scanSummary(result))),
    writeOutput(join(dir, 'passed'), String(result.passed)),
  ]);
}

async function writeFailureOutputs(dir: string, e: ForgeError): Promise<void> {
  await Promise.all([
    writeOutput(join(dir, 'scan-summary.json'), JSON.stringify({ passed: false, error: { code: e.code, message: e.message } })),
    writeOutput(join(dir, 'passed'), 'false'),
  ]);
}

/** The readable form: verdict, counts, what blocks and why, what was excepted. */
export function formatResult(r: ScanResult, digest?: string): string {
  const lines = [`scan ${r.passed ? 'PASSED' : 'FAILED'}: ${r.artifact}${digest ? ` (${digest})` : ''}`];
  const counts = SEVERITIES.slice()
    .reverse()
    .map((s) => `${r.summary[s]} ${s}`)
    .join(', ');
  lines.push(`  vulnerabilities: ${counts} (threshold ${r.threshold}${r.ignoreUnfixed ? ', unfixed ignored' : ''})`);
  if (r.blocking.length > 0) {
    lines.push(`  blocking (${r.blocking.length}):`);
    for (const f of r.blocking) lines.push(`    ${f.severity.padEnd(8)} ${describeFinding(f)}`);
  }
  if (r.expiredExceptions.length > 0) {
    lines.push(`  expired exceptions (${r.expiredExceptions.length}):`);
    for (const e of r.expiredExceptions) lines.push(`    ${e.id}${e.package ? ` (${e.package})` : ''} expired ${e.expires}: ${e.reason}`);
  }
  if (r.excepted.length > 0) {
    lines.push(`  excepted (${r.excepted.length}):`);
    for (const f of r.excepted) lines.push(`    ${f.severity.padEnd(8)} ${f.id} in ${f.package} until ${f.exception.expires}: ${f.exception.reason}`);
  }
  if (r.ignoredUnfixed > 0) lines.push(`  ignored without a fix: ${r.ignoredUnfixed}`);
  lines.push(r.message);
  return `${lines.join('\n')}\n`;
}
