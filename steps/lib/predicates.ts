/**
 * The in-toto predicate types forge writes and reads, each defined here only (the step tools, the
 * admission policy and the tests import them from here).
 */

/** The promotion attestation verify-and-promote signs (steps/attest). */
export const PROMOTION_PREDICATE_TYPE = 'https://forge.dev/attestations/promotion/v1';

/**
 * cosign's vulnerability-scan attestation (`cosign attest --type vuln`), as cosign writes it
 * (`pkg/cosign/attestation`: CosignVulnProvenanceV01) and Kyverno reads it. The Trivy JSON report is
 * in `predicate.scanner.result`.
 */
export const VULN_PREDICATE_TYPE = 'https://cosign.sigstore.dev/attestation/vuln/v1';
/** The short name cosign's `--type` takes for VULN_PREDICATE_TYPE. */
export const VULN_PREDICATE_SHORT = 'vuln';

/** cosign's CosignVulnPredicate (what `trivy image --format cosign-vuln` writes). */
export interface VulnPredicate {
  invocation: { parameters: unknown; uri: string; event_id: string; 'builder.id': string };
  scanner: { uri: string; version: string; db: { uri: string; version: string }; result: unknown };
  metadata: { scanStartedOn: string; scanFinishedOn: string };
}

/**
 * Wraps a Trivy JSON report into the vuln predicate, as `trivy image --format cosign-vuln` does:
 * `cosign attest --type vuln` expects this wrapper (a bare Trivy report would be attested with an
 * empty `scanner.result`, which the scan gate refuses).
 */
export function vulnPredicate(report: unknown, scanner: { uri?: string; version?: string; startedOn?: Date; finishedOn?: Date } = {}): VulnPredicate {
  const finished = (scanner.finishedOn ?? new Date()).toISOString();
  return {
    invocation: { parameters: null, uri: '', event_id: '', 'builder.id': '' },
    scanner: { uri: scanner.uri ?? 'pkg:github/aquasecurity/trivy', version: scanner.version ?? '', db: { uri: '', version: '' }, result: report },
    metadata: { scanStartedOn: (scanner.startedOn ?? new Date(finished)).toISOString(), scanFinishedOn: finished },
  };
}
