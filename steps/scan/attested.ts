/**
 * The scan result the gate trusts: a cosign vulnerability attestation (`cosign attest --type vuln`,
 * predicate `https://cosign.sigstore.dev/attestation/vuln/v1`, the Trivy JSON report in
 * `predicate.scanner.result`) on the image digest, signed by the scanner the platform config names.
 * Nothing the submitter hands over is read: the report comes out of the verified DSSE payload only,
 * and only from a statement whose subject is the image's digest.
 */
import { verifiedAttestations } from '../lib/cosign.ts';
import { ForgeError, isForgeError } from '../lib/errors.ts';
import { VULN_PREDICATE_SHORT, VULN_PREDICATE_TYPE } from '../lib/predicates.ts';
import type { KeyVerifier } from '../lib/promotion-settings.ts';
import { parsePinnedReference } from '../lib/reference.ts';
import { parseTrivyReport, type TrivyReport } from './report.ts';

export interface AttestedScan {
  report: TrivyReport;
  /** The scanner that signed it (key name and fingerprint, KMS URI, or certificate identity). */
  scanner: string;
  /** `metadata.scanFinishedOn` of the attestation used. */
  scannedAt: string;
  /** How many verified vulnerability attestations the image carries (the newest is used). */
  attestations: number;
}

interface Statement {
  _type?: unknown;
  predicateType?: unknown;
  subject?: unknown;
  predicate?: { scanner?: { result?: unknown }; metadata?: { scanFinishedOn?: unknown } };
}

const refuse = (reference: string, why: string, hint: string) =>
  new ForgeError('SCAN_BLOCKED', `no trusted scan result for ${reference}: ${why}`, [{ field: 'vulnerability attestation', message: hint }]);

/** Whether an in-toto subject list names this digest (`{name, digest: {sha256: <hex>}}`). */
export function namesDigest(subject: unknown, digest: string): boolean {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return Array.isArray(subject) && subject.some((s: unknown) => typeof s === 'object' && s !== null && (s as { digest?: Record<string, unknown> }).digest?.[algorithm] === hex && Object.hasOwn((s as { digest: object }).digest, algorithm));
}

/**
 * Verifies the image's vulnerability attestations with the scanner's key or identity and returns
 * the Trivy report of the newest one about this digest. Refuses (SCAN_BLOCKED) when there is none,
 * when none verifies with the scanner, or when the verified ones are about another digest.
 */
export async function attestedScanReport(reference: string, scanner: KeyVerifier): Promise<AttestedScan> {
  const { digest } = parsePinnedReference(reference);
  const sign = `sign the scan result with the scanner: \`trivy image --format cosign-vuln --output vuln.json ${reference}\` then \`cosign attest --type vuln --predicate vuln.json --key <scanner key> ${reference}\``;
  let verified;
  try {
    verified = await verifiedAttestations(reference, VULN_PREDICATE_SHORT, scanner);
  } catch (e) {
    if (!isForgeError(e) || e.code !== 'ATTESTATION_FAILED') throw e;
    throw refuse(reference, `no vulnerability attestation (${VULN_PREDICATE_TYPE}) verifies with the scanner ${scanner.label}: ${e.message.replace(/^attestation verification failed for \S+: /, '').replace(/:\s*$/, '')}`, sign);
  }
  // cosign (2.5) returns only statements of this predicate type naming this digest (attested.test.ts
  // shows it with hand-signed statements); both are checked again here so that what the gate trusts
  // does not depend on that. With cosign as it is these lines never drop a statement nor refuse, so
  // their mutants are equivalent (namesDigest itself is tested directly).
  // Stryker disable all
  const statements = verified.map((a) => a.statement as Statement).filter((s) => s.predicateType === VULN_PREDICATE_TYPE);
  const ours = statements.filter((s) => namesDigest(s.subject, digest));
  if (ours.length === 0) {
    throw refuse(reference, `the ${statements.length} vulnerability attestation(s) signed by the scanner ${scanner.label} are about another image, not ${digest}`, `scan and attest this digest: ${sign}`);
  }
  // Stryker restore all
  const finished = (s: Statement) => (typeof s.predicate?.metadata?.scanFinishedOn === 'string' ? s.predicate.metadata.scanFinishedOn : '');
  // The newest scan decides: a later scan knows of more vulnerabilities than an earlier one.
  const newest = ours.reduce((a, b) => (Date.parse(finished(b)) > Date.parse(finished(a)) || Number.isNaN(Date.parse(finished(a))) ? b : a));
  const result = newest.predicate?.scanner?.result;
  if (result === null || typeof result !== 'object') {
    throw refuse(
      reference,
      `the vulnerability attestation signed by ${scanner.label} carries no scan result (predicate.scanner.result is ${result === undefined ? 'missing' : JSON.stringify(result)})`,
      'attest the cosign-vuln wrapper (`trivy image --format cosign-vuln`), not the bare Trivy report: cosign drops fields it does not know',
    );
  }
  let report: TrivyReport;
  try {
    report = parseTrivyReport(JSON.stringify(result), `the vulnerability attestation of ${reference}`);
  } catch (e) {
    // parseTrivyReport throws only ForgeErrors (and JSON.stringify of an object parses).
    const { message, details } = e as ForgeError;
    throw new ForgeError('SCAN_BLOCKED', `no trusted scan result for ${reference}: ${message}`, details);
  }
  return { report, scanner: scanner.label, scannedAt: finished(newest), attestations: ours.length };
}
