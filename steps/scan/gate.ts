/**
 * The scan gate of verify-and-promote: decides from a Trivy image report whether an image may be
 * promoted. Pure: the report, the policy and the current time in, a result with an actionable
 * message out. The gate filters by severity itself, so it does not matter whether the report was
 * made with `--severity` or `--ignore-unfixed`.
 */
import { z } from 'zod';
import { ForgeError } from '../lib/errors.ts';
import { exceptionSchema, expiresAt, fieldOf, type ScanException, validateExceptions } from '../lib/scan-exceptions.ts';
import { DEFAULT_THRESHOLD, SEVERITIES, severityRank, severitySchema, type Severity } from '../lib/severity.ts';
import type { TrivyReport, TrivyVulnerability } from './report.ts';

export type { ScanException } from '../lib/scan-exceptions.ts';

export interface ScanPolicy {
  /** Lowest severity that blocks (default HIGH: HIGH and CRITICAL block). */
  threshold: Severity;
  /** Let vulnerabilities without a fix through (default false: an unfixed vulnerability still blocks). */
  ignoreUnfixed: boolean;
  exceptions: ScanException[];
  /** When set, the report must be about this manifest digest (`sha256:<hex>`). */
  digest?: string;
}

export type ScanPolicyInput = Partial<ScanPolicy>;

export { DEFAULT_THRESHOLD };

export const scanPolicySchema = z.object({
  threshold: severitySchema.default(DEFAULT_THRESHOLD),
  ignoreUnfixed: z.boolean().default(false),
  exceptions: z.array(exceptionSchema).default([]),
  digest: z
    .string()
    .regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/, 'digest must look like sha256:<64 hex>')
    .optional(),
});

export interface Finding {
  id: string;
  package: string;
  installed: string;
  /** Fixed version(s) as Trivy writes them; empty when there is no fix. */
  fixed: string;
  severity: Severity;
  target: string;
  /** Trivy's status (`fixed`, `affected`, `will_not_fix`, …) when the report has one. */
  status?: string;
  title?: string;
  /** The Result's class (`os-pkgs`, `lang-pkgs`, …). */
  class?: string;
}

export interface ExceptedFinding extends Finding {
  exception: { id: string; package?: string; reason: string; expires: string };
}

export interface ExpiredException {
  id: string;
  package?: string;
  reason: string;
  expires: string;
  /** The blocking findings it would have covered (`CVE-… in pkg`). */
  matched: string[];
}

export type SeverityCounts = Record<Severity, number> & { total: number };

export interface ScanResult {
  passed: boolean;
  artifact: string;
  threshold: Severity;
  ignoreUnfixed: boolean;
  /** Findings per severity over the whole report (before threshold, exceptions, unfixed). */
  summary: SeverityCounts;
  blocking: Finding[];
  excepted: ExceptedFinding[];
  expiredExceptions: ExpiredException[];
  /** Findings at or above the threshold let through because they have no fix (ignoreUnfixed). */
  ignoredUnfixed: number;
  message: string;
}

/** Statuses `trivy --ignore-unfixed` ignores (`docs/guide/configuration/filtering.md`). */
const UNFIXED_STATUSES = new Set(['affected', 'will_not_fix', 'fix_deferred', 'end_of_life']);

export { severityRank };

/** No fix: an unfixed status, or (reports without Status) no FixedVersion. */
export function isUnfixed(v: Pick<TrivyVulnerability, 'Status' | 'FixedVersion'>): boolean {
  if (v.Status) return UNFIXED_STATUSES.has(v.Status) || (v.Status !== 'fixed' && !v.FixedVersion);
  return !v.FixedVersion;
}

function matches(e: ScanException, v: TrivyVulnerability): boolean {
  const id = e.id.toUpperCase();
  const idHit = v.VulnerabilityID.toUpperCase() === id || v.VendorIDs.some((x) => x.toUpperCase() === id);
  return idHit && (e.package === undefined || e.package === v.PkgName);
}

/** Normalises a policy given in code (defaults, validation); configuration errors are INVALID_CONFIG. */
export function resolvePolicy(input: ScanPolicyInput = {}): ScanPolicy {
  if (input.exceptions !== undefined) validateExceptions(input.exceptions);
  const parsed = scanPolicySchema.safeParse(input);
  if (!parsed.success) {
    throw new ForgeError(
      'INVALID_CONFIG',
      'invalid scan policy',
      parsed.error.issues.map((i) => ({ field: fieldOf(i.path), message: i.message })),
    );
  }
  return parsed.data;
}

/** The digest part of `repo@sha256:…` entries in Metadata.RepoDigests. */
function reportDigests(report: TrivyReport): string[] {
  return report.Metadata.RepoDigests.map((d) => d.slice(d.lastIndexOf('@') + 1));
}

/**
 * Refuses a report that is not about `digest` (SCAN_BLOCKED): the gate must judge the bytes being
 * promoted, not a tag that may have moved since the scan.
 */
export function checkDigest(report: TrivyReport, digest: string): void {
  if (reportDigests(report).includes(digest)) return;
  const known = report.Metadata.RepoDigests.length > 0 ? `repository digests ${report.Metadata.RepoDigests.join(', ')}` : 'no repository digest recorded';
  throw new ForgeError(
    'SCAN_BLOCKED',
    `the scan report is for ${report.ArtifactName || '(unnamed artifact)'} (${known}) not for ${digest}: ` +
      `scan the image by digest (\`trivy image --format json <repository>@${digest}\`) and pass that report`,
    [{ field: 'Metadata.RepoDigests', message: `expected an entry ending in @${digest}` }],
  );
}

export function evaluateScan(report: TrivyReport, policyInput: ScanPolicyInput = {}, now: Date = new Date()): ScanResult {
  const policy = resolvePolicy(policyInput);
  if (policy.digest) checkDigest(report, policy.digest);
  const threshold = severityRank(policy.threshold);
  const nowMs = now.getTime();

  const summary: SeverityCounts = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0, total: 0 };
  const blocking: Finding[] = [];
  const excepted: ExceptedFinding[] = [];
  const expired = new Map<ScanException, ExpiredException>();
  let ignoredUnfixed = 0;

  for (const result of report.Results) {
    for (const v of result.Vulnerabilities) {
      summary[v.Severity]++;
      summary.total++;
      if (severityRank(v.Severity) < threshold) continue;
      if (policy.ignoreUnfixed && isUnfixed(v)) {
        ignoredUnfixed++;
        continue;
      }
      const finding: Finding = {
        id: v.VulnerabilityID,
        package: v.PkgName,
        installed: v.InstalledVersion,
        fixed: v.FixedVersion ?? '',
        severity: v.Severity,
        target: result.Target,
        ...(v.Status ? { status: v.Status } : {}),
        ...(v.Title ? { title: v.Title } : {}),
        ...(result.Class ? { class: result.Class } : {}),
      };
      const hits = policy.exceptions.filter((e) => matches(e, v));
      const valid = hits.find((e) => nowMs < expiresAt(e.expires));
      if (valid) {
        excepted.push({ ...finding, exception: { id: valid.id, ...(valid.package ? { package: valid.package } : {}), reason: valid.reason, expires: valid.expires } });
        continue;
      }
      for (const e of hits) {
        const entry = expired.get(e) ?? { id: e.id, ...(e.package ? { package: e.package } : {}), reason: e.reason, expires: e.expires, matched: [] };
        const what = `${finding.id} in ${finding.package}`;
        if (!entry.matched.includes(what)) entry.matched.push(what);
        expired.set(e, entry);
      }
      blocking.push(finding);
    }
  }

  blocking.sort(bySeverity);
  excepted.sort(bySeverity);
  const expiredExceptions = [...expired.values()];
  const partial = { passed: blocking.length === 0, threshold: policy.threshold, ignoreUnfixed: policy.ignoreUnfixed, summary, blocking, excepted, expiredExceptions, ignoredUnfixed };
  return { ...partial, artifact: report.ArtifactName, message: scanMessage(partial) };
}

/** Most severe first, then by id and package, so messages and outputs are stable. */
function bySeverity(a: Finding, b: Finding): number {
  return severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id) || a.package.localeCompare(b.package);
}

const MAX_LISTED = 10;

/** `2 CRITICAL, 1 HIGH vulnerabilities` */
export function countPhrase(findings: { severity: Severity }[]): string {
  const parts = [...SEVERITIES]
    .reverse()
    .map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  return `${parts.join(', ')} ${findings.length === 1 ? 'vulnerability' : 'vulnerabilities'}`;
}

/** `CVE-… in openssl 1.1.1a (fixed in 1.1.1b)`, with the target for language packages. */
export function describeFinding(f: Finding): string {
  const fix = f.fixed ? `fixed in ${f.fixed}` : `no fix available${f.status ? `: ${f.status.replace(/_/g, ' ')}` : ''}`;
  const where = f.class && f.class !== 'os-pkgs' && f.target ? ` [${f.target}]` : '';
  return `${f.id} in ${f.package} ${f.installed} (${fix})${where}`;
}

function describeException(e: { id: string; package?: string }): string {
  return `${e.id}${e.package ? ` for ${e.package}` : ''}`;
}

function scanMessage(r: Omit<ScanResult, 'message' | 'artifact'>): string {
  const { threshold } = r;
  if (r.passed) {
    const below = [...SEVERITIES]
      .reverse()
      .filter((s) => severityRank(s) < severityRank(threshold) && r.summary[s] > 0)
      .map((s) => `${r.summary[s]} ${s}`);
    const parts = [r.summary.total === 0 ? 'no vulnerabilities found' : `nothing at or above ${threshold} blocks`];
    if (below.length > 0) parts.push(`below the threshold: ${below.join(', ')}`);
    if (r.excepted.length > 0) {
      parts.push(`${r.excepted.length} excepted (${unique(r.excepted.map((f) => `${f.id} until ${f.exception.expires}`)).join(', ')})`);
    }
    if (r.ignoredUnfixed > 0) parts.push(`${r.ignoredUnfixed} without a fix ignored`);
    return `scan passed: ${parts.join('; ')}`;
  }
  const listed = r.blocking.slice(0, MAX_LISTED).map(describeFinding);
  const more = r.blocking.length > MAX_LISTED ? `, and ${r.blocking.length - MAX_LISTED} more` : '';
  const sentences = [`${countPhrase(r.blocking)} at or above ${threshold}: ${listed.join(', ')}${more}`];
  for (const e of r.expiredExceptions) {
    sentences.push(`the exception for ${describeException(e)} expired on ${e.expires} (reason was: ${e.reason})`);
  }
  const actions: string[] = [];
  if (r.blocking.some((f) => f.fixed)) actions.push('upgrade to the fixed versions');
  if (r.expiredExceptions.length > 0) actions.push(`renew the expired exception${r.expiredExceptions.length === 1 ? '' : 's'} with a new expiry date if still justified`);
  actions.push('add an exception with reason and expiry');
  let hint = `; ${actions.join(', or ')}`;
  if (!r.ignoreUnfixed && r.blocking.some((f) => !f.fixed)) hint += ' (unfixed vulnerabilities can be let through with --ignore-unfixed)';
  return `${sentences.join('; ')}${hint}`;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** At most this many blocking ids go into scan-summary.json (an Argo parameter must stay small). */
export const MAX_SUMMARY_IDS = 20;

/** scan-summary.json: counts, the verdict and at most MAX_SUMMARY_IDS blocking ids. */
export function scanSummary(result: ScanResult): Record<string, unknown> {
  const ids = [...new Set(result.blocking.map((f) => f.id))];
  return {
    passed: result.passed,
    threshold: result.threshold,
    counts: result.summary,
    blocking: result.blocking.length,
    blockingIds: ids.slice(0, MAX_SUMMARY_IDS),
    ...(ids.length > MAX_SUMMARY_IDS ? { blockingIdsTruncated: true } : {}),
    excepted: result.excepted.length,
    expiredExceptions: result.expiredExceptions.map((e) => e.id),
    ignoredUnfixed: result.ignoredUnfixed,
  };
}
