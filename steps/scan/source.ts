/**
 * Where the scan gate's Trivy report comes from: by default a vulnerability attestation verified
 * with the platform's scanner (attested.ts); on a laptop only, and only when asked for by name, a
 * report file nobody signed, with a loud warning every time.
 */
import type { Logger } from 'pino';
import type { KeyVerifier } from '../lib/promotion-settings.ts';
import { isForgeError } from '../lib/errors.ts';
import { attestedScanReport } from './attested.ts';
import { readReport, type TrivyReport } from './report.ts';

export type ScanSource = { kind: 'attestation'; scanner: KeyVerifier } | { kind: 'unverified-report'; file: string };

export interface ScanInput {
  report: TrivyReport;
  /** Where the report came from, for outputs and records: the scanner, or `UNVERIFIED <file>`. */
  origin: string;
  verified: boolean;
}

export const UNVERIFIED_WARNING =
  'UNVERIFIED SCAN REPORT: the scan gate is reading a report file that no scanner signed; anyone can write one that says "no vulnerabilities". ' +
  'Use this on a laptop only; verify-and-promote in the cluster reads only vulnerability attestations signed by the platform scanner.';

/** How often the gate asks again while it waits for the scanner's attestation. */
export const SCAN_POLL_MS = 5000;

export async function readScan(reference: string, source: ScanSource, log: Pick<Logger, 'warn' | 'info'>, waitMs = 0): Promise<ScanInput> {
  if (source.kind === 'unverified-report') {
    log.warn({ unverifiedScanReport: source.file, image: reference }, UNVERIFIED_WARNING);
    process.stderr.write(`\n!!! WARNING: ${UNVERIFIED_WARNING}\n!!! report: ${source.file}\n\n`);
    return { report: await readReport(source.file), origin: `UNVERIFIED report file ${source.file}`, verified: false };
  }
  const deadline = Date.now() + waitMs;
  let attested;
  for (;;) {
    try {
      attested = await attestedScanReport(reference, source.scanner);
      break;
    } catch (e) {
      // None by the scanner yet: a scanner that attests on its own may still be at work.
      const pending = isForgeError(e) && e.code === 'SCAN_BLOCKED' && /no matching attestations/.test(e.message);
      if (!pending || Date.now() + SCAN_POLL_MS > deadline) throw e;
      log.info({ image: reference, secondsLeft: Math.round((deadline - Date.now()) / 1000) }, 'no attestation by the scanner yet: waiting for it');
      await new Promise((r) => setTimeout(r, SCAN_POLL_MS));
    }
  }
  return { report: attested.report, origin: `vulnerability attestation by ${attested.scanner} (scan finished ${attested.scannedAt || 'at an unknown time'})`, verified: true };
}
