import { describe, expect, it } from 'vitest';
import { ForgeError } from '../lib/errors.ts';
import { checkDigest, evaluateScan, isUnfixed, MAX_SUMMARY_IDS, scanSummary, type ScanResult } from './gate.ts';
import { parseTrivyReport } from './report.ts';

/**
 * The scan gate's smaller rules, each on its own: what counts as unfixed, the scan-summary.json
 * written for Argo, the digest refusal's detail, and the long-list wording. The verdicts on whole
 * reports are in gate.test.ts.
 */
const report = (vulns: object[], extra: object = {}) =>
  parseTrivyReport(JSON.stringify({ SchemaVersion: 2, ArtifactName: 'app', ArtifactType: 'container_image', Results: [{ Target: 't', Vulnerabilities: vulns }], ...extra }), 'r.json');
const NOW = new Date('2025-06-01T12:00:00Z');

describe('isUnfixed', () => {
  it.each([
    [{ Status: 'affected' }, true],
    [{ Status: 'will_not_fix', FixedVersion: '1.2' }, true],
    [{ Status: 'fix_deferred' }, true],
    [{ Status: 'end_of_life' }, true],
    [{ Status: 'fixed', FixedVersion: '1.2' }, false],
    [{ Status: 'fixed' }, false],
    [{ Status: 'under_investigation' }, true],
    [{ Status: 'under_investigation', FixedVersion: '1.2' }, false],
    [{ FixedVersion: '1.2' }, false],
    [{}, true],
  ])('%j → %s', (v, unfixed) => {
    expect(isUnfixed({ Status: undefined, FixedVersion: undefined, ...v })).toBe(unfixed);
  });
});

describe('scanSummary (scan-summary.json, an Argo parameter)', () => {
  const blocking = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `CVE-2024-${1000 + i}`, package: 'p', installed: '1', fixed: '2', severity: 'HIGH' as const, target: 't' }));
  const result = (b: ReturnType<typeof blocking>): ScanResult => ({
    passed: b.length === 0,
    artifact: 'a',
    threshold: 'HIGH',
    ignoreUnfixed: false,
    summary: { CRITICAL: 0, HIGH: b.length, MEDIUM: 0, LOW: 0, UNKNOWN: 0, total: b.length },
    blocking: b,
    excepted: [],
    expiredExceptions: [{ id: 'CVE-1', reason: 'r', expires: '2020-01-01', matched: [] }],
    ignoredUnfixed: 3,
    message: '',
  });

  it('lists each blocking id once, all of them up to the limit', () => {
    const b = blocking(MAX_SUMMARY_IDS);
    expect(scanSummary(result([...b, b[0]!]))).toEqual({
      passed: false,
      threshold: 'HIGH',
      counts: { CRITICAL: 0, HIGH: 21, MEDIUM: 0, LOW: 0, UNKNOWN: 0, total: 21 },
      blocking: 21,
      blockingIds: b.map((f) => f.id),
      excepted: 0,
      expiredExceptions: ['CVE-1'],
      ignoredUnfixed: 3,
    });
  });

  it('cuts the list at the limit and says so', () => {
    const s = scanSummary(result(blocking(MAX_SUMMARY_IDS + 1)));
    expect([s.blockingIds, s.blockingIdsTruncated]).toEqual([blocking(MAX_SUMMARY_IDS).map((f) => f.id), true]);
  });
});

describe('refusals and long lists', () => {
  it('a report about another digest names the entry it expected', () => {
    const r = report([], { ArtifactName: '', Metadata: { RepoDigests: [`app@sha256:${'a'.repeat(64)}`, `mirror/app@sha256:${'b'.repeat(64)}`] } });
    const want = `sha256:${'c'.repeat(64)}`;
    let e: unknown;
    try {
      checkDigest(r, want);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ForgeError);
    expect((e as ForgeError).message).toMatch(new RegExp(`^the scan report is for \\(unnamed artifact\\) \\(repository digests app@sha256:a{64}, mirror/app@sha256:b{64}\\) not for ${want}`));
    expect((e as ForgeError).details).toEqual([{ field: 'Metadata.RepoDigests', message: `expected an entry ending in @${want}` }]);
  });

  it('lists ten blocking findings and counts the rest', () => {
    const vulns = (n: number) => Array.from({ length: n }, (_, i) => ({ VulnerabilityID: `CVE-2024-${1000 + i}`, PkgName: 'p', InstalledVersion: '1', FixedVersion: '2', Severity: 'HIGH' }));
    expect(evaluateScan(report(vulns(10)), {}, NOW).message).toMatch(/CVE-2024-1009 in p 1 \(fixed in 2\); upgrade/);
    const eleven = evaluateScan(report(vulns(11)), {}, NOW).message;
    expect(eleven).toMatch(/^11 HIGH vulnerabilities at or above HIGH: CVE-2024-1000 .*CVE-2024-1009 in p 1 \(fixed in 2\), and 1 more; upgrade to the fixed versions, or add an exception/);
    expect(eleven).not.toContain('CVE-2024-1010');
  });

  it('suggests upgrading when any blocking finding has a fix, and --ignore-unfixed when any has none', () => {
    const mixed = evaluateScan(report([{ VulnerabilityID: 'CVE-1', PkgName: 'a', Severity: 'HIGH', FixedVersion: '2' }, { VulnerabilityID: 'CVE-2', PkgName: 'b', Severity: 'HIGH' }]), {}, NOW);
    expect(mixed.message).toMatch(/; upgrade to the fixed versions, or add an exception with reason and expiry \(unfixed vulnerabilities can be let through with --ignore-unfixed\)$/);
  });

  it('names several expired exceptions in the plural', () => {
    const exceptions = ['CVE-1', 'CVE-2'].map((id) => ({ id, reason: 'r', expires: '2020-01-01' }));
    const r = evaluateScan(report([{ VulnerabilityID: 'CVE-1', PkgName: 'a', Severity: 'HIGH' }, { VulnerabilityID: 'CVE-2', PkgName: 'b', Severity: 'HIGH' }]), { exceptions }, NOW);
    expect(r.message).toContain('renew the expired exceptions with a new expiry date if still justified');
  });
});
