import { join } from 'node:path';
import { z } from 'zod';
import { inArgo, writeOutput } from '../lib/argo-io.ts';
import { optionsOf, parseToolArgs, pinnedImage, runMain, transparencyLogFlag } from '../lib/cli.ts';
import { outputFile } from '../lib/contract.ts';
import { ForgeError, isForgeError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { VULN_PREDICATE_TYPE } from '../lib/predicates.ts';
import { loadPromotionSettings, pick, SETTINGS_FILE, verifierFor, type PromotionSettings } from '../lib/promotion-settings.ts';
import { parsePinnedReference } from '../lib/reference.ts';
import { loadExceptions } from '../lib/scan-exceptions.ts';
import { DEFAULT_THRESHOLD, SEVERITIES, severitySchema } from '../lib/severity.ts';
import { describeFinding, evaluateScan, scanSummary, type ScanResult } from './gate.ts';
import { readScan, type ScanSource } from './source.ts';

export const usage = `Usage: forge scan --image REPOSITORY@sha256:… [--scan-policy NAME | options]

The scan gate of verify-and-promote. Reads the image's vulnerability attestation
(\`cosign attest --type vuln\`, predicate ${VULN_PREDICATE_TYPE}),
verified with cosign against the platform's scanner (promotion settings \`scanner\`), takes the Trivy
report from the verified predicate only, and fails (exit 1) when a vulnerability at or above the
threshold is not covered by a valid exception, or when an exception that would cover one has expired.

Options (each may also come from FORGE_<OPTION>, e.g. FORGE_THRESHOLD):
  --image REF          the image, pinned by digest (the attestation's subject must be this digest)
  --scan-policy NAME   a scan policy of the promotion settings (threshold, unfixed, exceptions)
  --settings FILE      the promotion settings (default ${SETTINGS_FILE}); its \`scanner\` signs
                       the attestations, its \`transparencyLog\` says whether Rekor is used
  --scanner-key REF    laptop only, instead of the settings' scanner: a public key file, KMS URI or
  --scanner-identity ID --scanner-issuer URL   keyless identity (needs --transparency-log)
  --transparency-log B with --scanner-*: true or false (false: no Rekor, said explicitly)
  --unverified-scan-report FILE
                       laptop only: read a Trivy JSON report file nobody signed instead of an
                       attestation. Logs a loud warning every time; refused inside Argo.
  --threshold SEV      lowest blocking severity: CRITICAL, HIGH (default), MEDIUM, LOW, UNKNOWN
  --ignore-unfixed     let vulnerabilities without a fix through
  --exceptions FILE    YAML or JSON list of exceptions (id, package?, reason, expires)
  --wait-seconds N     wait this long for the scanner's attestation when the image has none yet
                       (default: the settings' scanWaitSeconds, else 0)
  --output FORMAT      text (default) or json (the full result)
  --outputs-dir DIR    also write Argo output files: scan-summary.json, passed
`;

/** Empty strings are how Argo passes "not set" for optional parameters. */
const optional = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const schema = z.object({
  image: z.preprocess((v) => (v === '' ? undefined : v), pinnedImage),
  'unverified-scan-report': optional,
  'scanner-key': optional,
  'scanner-identity': optional,
  'scanner-issuer': optional,
  'transparency-log': z.preprocess((v) => (v === '' ? undefined : v), transparencyLogFlag.optional()),
  threshold: z.preprocess((v) => (v === '' ? undefined : v), severitySchema.default(DEFAULT_THRESHOLD)),
  'ignore-unfixed': z.boolean().default(false),
  exceptions: optional,
  'scan-policy': optional,
  settings: optional,
  'wait-seconds': z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(3600).optional()),
  output: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['text', 'json']).default('text')),
  'outputs-dir': optional,
  help: z.boolean().optional(),
});

type Values = z.infer<typeof schema>;

/** Where the report comes from: the settings' scanner (always in Argo), explicit scanner flags, or an unverified file. */
async function scanSource(v: Values, settings: PromotionSettings | undefined): Promise<ScanSource> {
  const laptopOnly = v['unverified-scan-report'] ? '--unverified-scan-report' : v['scanner-key'] || v['scanner-identity'] ? '--scanner-key/--scanner-identity' : undefined;
  if (laptopOnly && inArgo()) {
    throw new ForgeError('INVALID_ARGS', `${laptopOnly} is refused inside Argo: the scan gate there trusts only vulnerability attestations signed by the platform scanner (promotion settings \`scanner\`)`);
  }
  if (v['unverified-scan-report']) return { kind: 'unverified-report', file: v['unverified-scan-report'] };
  if (v['scanner-key'] || v['scanner-identity']) {
    if (!v['transparency-log']) throw new ForgeError('INVALID_ARGS', '--transparency-log must be set explicitly to true or false with --scanner-key/--scanner-identity');
    if (v['scanner-identity'] && !v['scanner-issuer']) throw new ForgeError('INVALID_ARGS', '--scanner-identity needs --scanner-issuer');
    const transparencyLog = v['transparency-log'] === 'true';
    return v['scanner-key']
      ? { kind: 'attestation', scanner: { key: v['scanner-key'], transparencyLog, label: v['scanner-key'] } }
      : { kind: 'attestation', scanner: { keyless: { identity: v['scanner-identity']!, issuer: v['scanner-issuer']! }, transparencyLog, label: `${v['scanner-identity']} (${v['scanner-issuer']})` } };
  }
  const s = settings ?? (await loadPromotionSettings(v.settings));
  if (!s.scanner) {
    throw new ForgeError('INVALID_CONFIG', `the promotion settings ${v.settings ?? SETTINGS_FILE} name no scanner: set promotion.scanner in the platform config (the key or identity that signs vulnerability attestations)`, [
      { file: v.settings ?? SETTINGS_FILE, field: 'scanner', message: 'required by the scan gate' },
    ]);
  }
  return { kind: 'attestation', scanner: await verifierFor('scanner', s.scanner, s.transparencyLog) };
}

export async function main(argv: string[]): Promise<void> {
  const log = createLogger('scan');
  await runMain(log, async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(usage);
      return;
    }
    const { values } = parseToolArgs(argv, optionsOf(schema.shape, { help: 'h' }), schema);
    const outputsDir = values['outputs-dir'];
    let written = false;
    try {
      const image = values.image;
      const { digest } = parsePinnedReference(image);
      const settings = values['scan-policy'] ? await loadPromotionSettings(values.settings) : undefined;
      const named = settings ? pick(settings.scanPolicies, values['scan-policy']!, 'scan policy') : undefined;
      const exceptions = [...(named?.exceptions ?? []), ...(values.exceptions ? await loadExceptions(values.exceptions) : [])];
      const source = await scanSource(values, settings);
      const waitSeconds = values['wait-seconds'] ?? (source.kind === 'attestation' && !values['scanner-key'] && !values['scanner-identity'] ? (settings ?? (await loadPromotionSettings(values.settings))).scanWaitSeconds : 0);
      const scan = await readScan(image, source, log, waitSeconds * 1000);
      const result = evaluateScan(scan.report, {
        threshold: named?.threshold ?? values.threshold,
        ignoreUnfixed: named?.ignoreUnfixed ?? values['ignore-unfixed'],
        exceptions,
        digest,
      });
      log.info({ passed: result.passed, summary: result.summary, blocking: result.blocking.length, origin: scan.origin }, result.message);
      if (outputsDir) await writeScanOutputs(outputsDir, result, scan.origin);
      written = true;
      process.stdout.write(values.output === 'json' ? `${JSON.stringify({ ...result, origin: scan.origin, verified: scan.verified }, null, 2)}\n` : formatResult(result, digest, scan.origin));
      if (!result.passed) throw new ForgeError('SCAN_BLOCKED', result.message);
    } catch (e) {
      // A refused report still leaves the Argo outputs in place: the gate did not pass.
      if (outputsDir && isForgeError(e) && !written) await writeFailureOutputs(outputsDir, e).catch(() => undefined);
      throw e;
    }
  });
}

/** scan-summary.json also says where the report came from (the scanner's attestation, or UNVERIFIED): it goes into the promotion attestation and the records. */
export async function writeScanOutputs(dir: string, result: ScanResult, origin?: string): Promise<void> {
  await Promise.all([
    writeOutput(join(dir, outputFile('scan', 'scan-summary')), JSON.stringify({ ...scanSummary(result), ...(origin ? { report: origin } : {}) })),
    writeOutput(join(dir, outputFile('scan', 'passed')), String(result.passed)),
  ]);
}

async function writeFailureOutputs(dir: string, e: ForgeError): Promise<void> {
  await Promise.all([
    writeOutput(join(dir, outputFile('scan', 'scan-summary')), JSON.stringify({ passed: false, error: { code: e.code, message: e.message } })),
    writeOutput(join(dir, outputFile('scan', 'passed')), 'false'),
  ]);
}

/** The readable form: verdict, counts, what blocks and why, what was excepted. */
export function formatResult(r: ScanResult, digest?: string, origin?: string): string {
  const lines = [`scan ${r.passed ? 'PASSED' : 'FAILED'}: ${r.artifact}${digest ? ` (${digest})` : ''}`];
  if (origin) lines.push(`  report: ${origin}`);
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
