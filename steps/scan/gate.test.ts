import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ForgeError } from '../lib/errors.ts';
import { checkUser } from '../policy/checks.ts';
import { main } from './cli.ts';
import { loadExceptions, parseExceptions } from '../lib/scan-exceptions.ts';
import { evaluateScan, MAX_SUMMARY_IDS, scanSummary, type ScanException, type ScanPolicyInput } from './gate.ts';
import { imageUser, parseTrivyReport, type TrivyReport } from './report.ts';

const fixtures = fileURLToPath(new URL('../../test/fixtures/trivy/', import.meta.url));
const fixture = (name: string) => join(fixtures, name);
async function report(name: string): Promise<TrivyReport> {
  return parseTrivyReport(await readFile(fixture(name), 'utf8'), name);
}
const NOW = new Date('2025-06-01T12:00:00Z');
const DIGEST = 'sha256:0f3c1f1b7e0a4c1d9b2e8a6f5d4c3b2a19087f6e5d4c3b2a1908f7e6d5c4b3a2';

function thrown(fn: () => unknown): ForgeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error('expected a ForgeError, nothing was thrown');
}
async function rejected(p: Promise<unknown>): Promise<ForgeError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForgeError);
  return e as ForgeError;
}
const scan = async (name: string, policy: ScanPolicyInput = {}) => evaluateScan(await report(name), policy, NOW);

describe('parseTrivyReport', () => {
  it('reads the parts the gate uses and treats missing Vulnerabilities as empty', async () => {
    const r = await report('clean-nonroot.json');
    expect(r.ArtifactType).toBe('container_image');
    expect(r.Metadata.RepoDigests).toEqual(['registry.example.com/team/api@sha256:' + 'a'.repeat(64)]);
    expect(r.Metadata.Size).toBe(20971520);
    expect(r.Results.map((x) => x.Vulnerabilities.length)).toEqual([0, 0]);
    expect(imageUser(r)).toBe('10001');
  });

  it('treats a report without Results as clean', async () => {
    const r = await report('no-results.json');
    expect(r.Results).toEqual([]);
    const result = evaluateScan(r, {}, NOW);
    expect(result.passed).toBe(true);
    expect(result.summary.total).toBe(0);
    expect(result.message).toBe('scan passed: no vulnerabilities found');
  });

  it('refuses a report that is not about an image', async () => {
    const e = await rejected(report('filesystem.json'));
    expect(e.message).toContain('filesystem.json is not an image report');
    expect(e.message).toContain('"filesystem"');
    for (const type of ['vm', 'repository']) {
      const json = JSON.stringify({ SchemaVersion: 2, ArtifactName: 'disk.img', ArtifactType: type });
      expect(thrown(() => parseTrivyReport(json, 'r.json')).message).toMatch(/^r\.json is not an image report: it is a "(vm|repository)" report/);
    }
  });

  it('names the file of malformed JSON', async () => {
    const e = await rejected(report('truncated.json'));
    expect(e.message).toMatch(/^truncated\.json is not valid JSON: /);
    expect(e.details[0]!.file).toBe('truncated.json');
  });

  it('refuses other formats and schema versions with what to do', () => {
    expect(thrown(() => parseTrivyReport('[]', 'sarif.json')).message).toBe('sarif.json is not a Trivy JSON report (no SchemaVersion)');
    expect(thrown(() => parseTrivyReport('{"SchemaVersion":1}', 'old.json')).message).toContain('SchemaVersion 1; only SchemaVersion 2');
    const e = thrown(() => parseTrivyReport('{"SchemaVersion":2,"ArtifactType":"container_image","Results":[{"Vulnerabilities":[{"PkgName":"x"}]}]}', 'bad.json'));
    expect(e.details[0]).toMatchObject({ file: 'bad.json', field: 'Results.0.Vulnerabilities.0.VulnerabilityID' });
  });

  it('reads null lists and unknown severities without losing findings', () => {
    const r = parseTrivyReport(
      JSON.stringify({
        SchemaVersion: 2,
        ArtifactType: 'container_image',
        Metadata: { RepoDigests: null, ImageConfig: { config: null } },
        Results: [{ Target: 't', Vulnerabilities: null }, { Target: 'u', Vulnerabilities: [{ VulnerabilityID: 'X-1', Severity: 'weird' }] }],
      }),
      'r.json',
    );
    expect(r.Metadata.RepoDigests).toEqual([]);
    expect(imageUser(r)).toBeUndefined();
    expect(r.Results[1]!.Vulnerabilities[0]!.Severity).toBe('UNKNOWN');
  });
});

describe('evaluateScan: thresholds', () => {
  it('blocks HIGH and CRITICAL by default, with an actionable message', async () => {
    const r = await scan('high-critical.json');
    expect(r.passed).toBe(false);
    expect(r.summary).toEqual({ CRITICAL: 2, HIGH: 2, MEDIUM: 1, LOW: 1, UNKNOWN: 0, total: 6 });
    expect(r.blocking.map((f) => [f.severity, f.id, f.package])).toEqual([
      ['CRITICAL', 'CVE-2023-0286', 'libssl1.1'],
      ['CRITICAL', 'CVE-2023-0286', 'openssl'],
      ['HIGH', 'CVE-2022-24999', 'qs'],
      ['HIGH', 'CVE-2022-37434', 'zlib1g'],
    ]);
    expect(r.blocking[0]).toEqual({
      id: 'CVE-2023-0286',
      package: 'libssl1.1',
      installed: '1.1.1n-0+deb10u3',
      fixed: '1.1.1n-0+deb10u4',
      severity: 'CRITICAL',
      target: 'registry.example.com/team/legacy:2.0.1 (debian 10.13)',
      status: 'fixed',
      title: 'openssl: X.400 address type confusion in X.509 GeneralName',
      class: 'os-pkgs',
    });
    expect(r.message).toBe(
      '2 CRITICAL, 2 HIGH vulnerabilities at or above HIGH: CVE-2023-0286 in libssl1.1 1.1.1n-0+deb10u3 (fixed in 1.1.1n-0+deb10u4), ' +
        'CVE-2023-0286 in openssl 1.1.1n-0+deb10u3 (fixed in 1.1.1n-0+deb10u4), ' +
        'CVE-2022-24999 in qs 6.5.2 (fixed in 6.10.3, 6.9.7, 6.8.3, 6.7.3, 6.6.1, 6.5.3) [app/package-lock.json], ' +
        'CVE-2022-37434 in zlib1g 1:1.2.11.dfsg-1+deb10u1 (fixed in 1:1.2.11.dfsg-1+deb10u2); ' +
        'upgrade to the fixed versions, or add an exception with reason and expiry',
    );
  });

  it('CRITICAL lets HIGH through; MEDIUM, LOW and UNKNOWN block more', async () => {
    expect((await scan('high-critical.json', { threshold: 'CRITICAL' })).blocking).toHaveLength(2);
    expect((await scan('high-critical.json', { threshold: 'MEDIUM' })).blocking).toHaveLength(5);
    expect((await scan('high-critical.json', { threshold: 'LOW' })).blocking).toHaveLength(6);
    const medium = await scan('medium-root.json');
    expect(medium.passed).toBe(true);
    expect(medium.message).toBe('scan passed: nothing at or above HIGH blocks; below the threshold: 1 MEDIUM, 1 LOW, 1 UNKNOWN');
    expect((await scan('medium-root.json', { threshold: 'MEDIUM' })).blocking.map((f) => f.id)).toEqual(['CVE-2023-5363']);
    expect((await scan('medium-root.json', { threshold: 'UNKNOWN' })).blocking).toHaveLength(3);
  });

  it('accepts a lower-case threshold and rejects an unknown one', async () => {
    expect((await scan('high-critical.json', { threshold: 'critical' as never })).blocking).toHaveLength(2);
    const e = thrown(() => evaluateScan({} as TrivyReport, { threshold: 'SEVERE' as never }, NOW));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.details[0]!.field).toBe('threshold');
  });

  it('counts everything but blocks nothing on a clean image', async () => {
    const r = await scan('clean-nonroot.json');
    expect(r).toMatchObject({ passed: true, blocking: [], excepted: [], expiredExceptions: [], ignoredUnfixed: 0 });
  });
});

describe('evaluateScan: unfixed vulnerabilities', () => {
  it('block by default, and the message says there is no fix', async () => {
    const r = await scan('unfixed-high.json');
    expect(r.passed).toBe(false);
    expect(r.blocking.map((f) => f.id)).toEqual(['CVE-2023-29383', 'CVE-2022-3715']);
    expect(r.message).toBe(
      '1 CRITICAL, 1 HIGH vulnerabilities at or above HIGH: CVE-2023-29383 in passwd 1:4.8.1-2ubuntu2 (no fix available: will not fix), ' +
        'CVE-2022-3715 in bash 5.1-6ubuntu1 (no fix available: affected); add an exception with reason and expiry ' +
        '(unfixed vulnerabilities can be let through with --ignore-unfixed)',
    );
  });

  it('are let through and counted with ignoreUnfixed', async () => {
    const r = await scan('unfixed-high.json', { ignoreUnfixed: true });
    expect(r.passed).toBe(true);
    expect(r.ignoredUnfixed).toBe(2);
    expect(r.message).toBe('scan passed: nothing at or above HIGH blocks; below the threshold: 1 MEDIUM; 2 without a fix ignored');
    // A fixed vulnerability still blocks with ignoreUnfixed.
    expect((await scan('unfixed-high.json', { ignoreUnfixed: true, threshold: 'MEDIUM' })).blocking.map((f) => f.id)).toEqual(['CVE-2022-4899']);
  });
});

describe('evaluateScan: exceptions', () => {
  const valid = (e: Partial<ScanException> & { id: string }): ScanException => ({ reason: 'accepted', expires: '2099-01-01', ...e });

  it('a valid exception matching the id lets the finding through, with its reason and expiry', async () => {
    const exceptions = await loadExceptions(fixture('exceptions.yaml'));
    const r = await scan('high-critical.json', { exceptions });
    expect(r.blocking.map((f) => `${f.id}/${f.package}`)).toEqual(['CVE-2023-0286/libssl1.1', 'CVE-2022-37434/zlib1g']);
    expect(r.excepted.map((f) => [f.id, f.package, f.exception.expires])).toEqual([
      ['CVE-2023-0286', 'openssl', '2099-12-31'],
      // Matched through Trivy's VendorIDs (GHSA id of the CVE).
      ['CVE-2022-24999', 'qs', '2099-12-31T00:00:00Z'],
    ]);
    expect(r.excepted[0]!.exception.reason).toContain('X.400 addresses are never parsed');
  });

  it('a package-scoped exception covers only that package', async () => {
    const only = await scan('high-critical.json', { exceptions: [valid({ id: 'CVE-2023-0286', package: 'openssl' })] });
    expect(only.blocking.filter((f) => f.id === 'CVE-2023-0286').map((f) => f.package)).toEqual(['libssl1.1']);
    const all = await scan('high-critical.json', { exceptions: [valid({ id: 'cve-2023-0286' })] });
    expect(all.blocking.filter((f) => f.id === 'CVE-2023-0286')).toEqual([]);
    expect(all.excepted).toHaveLength(2);
  });

  it('passes when every blocking finding is excepted, and says so', async () => {
    const r = await scan('unfixed-high.json', { exceptions: await loadExceptions(fixture('exceptions.json')) });
    expect(r.passed).toBe(true);
    expect(r.message).toBe(
      'scan passed: nothing at or above HIGH blocks; below the threshold: 1 MEDIUM; 2 excepted (CVE-2023-29383 until 2099-01-01, CVE-2022-3715 until 2099-01-01)',
    );
  });

  it('an expired exception fails the gate, naming the exception and its expiry', async () => {
    const exceptions = await loadExceptions(fixture('exceptions-expired.yaml'));
    const r = await scan('unfixed-high.json', { exceptions, ignoreUnfixed: false, threshold: 'HIGH' });
    expect(r.passed).toBe(false);
    expect(r.expiredExceptions).toEqual([
      { id: 'CVE-2022-3715', package: 'bash', reason: 'bash is only used by the entrypoint script, no untrusted input', expires: '2024-06-30', matched: ['CVE-2022-3715 in bash'] },
    ]);
    expect(r.message).toContain('the exception for CVE-2022-3715 for bash expired on 2024-06-30 (reason was: bash is only used by the entrypoint script, no untrusted input)');
    expect(r.message).toContain('renew the expired exception with a new expiry date if still justified');

    // Even when it is the only thing that would block.
    const alone = await scan('unfixed-high.json', { exceptions: [...exceptions, valid({ id: 'CVE-2023-29383' })] });
    expect(alone.passed).toBe(false);
    expect(alone.blocking.map((f) => f.id)).toEqual(['CVE-2022-3715']);
    expect(alone.message).toMatch(/^1 HIGH vulnerability at or above HIGH: CVE-2022-3715 in bash .*; the exception for CVE-2022-3715 for bash expired on 2024-06-30/);
  });

  it('a date is valid through that day (UTC); a date-time until that instant', async () => {
    const on = (now: string, expires: string) =>
      evaluateScan(
        parseTrivyReport(JSON.stringify({ SchemaVersion: 2, ArtifactType: 'container_image', Results: [{ Target: 't', Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', Severity: 'HIGH' }] }] }), 'r.json'),
        { exceptions: [valid({ id: 'CVE-1', expires })] },
        new Date(now),
      ).passed;
    expect(on('2025-06-30T23:59:59Z', '2025-06-30')).toBe(true);
    expect(on('2025-07-01T00:00:00Z', '2025-06-30')).toBe(false);
    expect(on('2025-06-30T11:59:59Z', '2025-06-30T12:00:00Z')).toBe(true);
    expect(on('2025-06-30T12:00:00Z', '2025-06-30T12:00:00Z')).toBe(false);
  });

  it('an exception without reason or expiry is a configuration error naming the file and entry', async () => {
    const e = await rejected(loadExceptions(fixture('exceptions-no-reason.yaml')));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('exceptions-no-reason.yaml: invalid vulnerability exception');
    expect(e.details).toEqual([
      {
        file: fixture('exceptions-no-reason.yaml'),
        line: 6,
        column: 5,
        field: 'exceptions[1].reason',
        message: 'entry 1 (CVE-2022-37434): reason is required: say why the vulnerability is accepted',
      },
    ]);
    expect(e.format()).toContain('exceptions-no-reason.yaml:6:5: exceptions[1].reason: entry 1 (CVE-2022-37434): reason is required');

    const given = thrown(() => evaluateScan({} as TrivyReport, { exceptions: [{ id: 'CVE-1', reason: ' ' } as ScanException] }, NOW));
    expect(given.code).toBe('INVALID_CONFIG');
    expect(given.details.map((d) => d.message)).toEqual([
      'entry 0 (CVE-1): reason is empty: say why the vulnerability is accepted',
      'entry 0 (CVE-1): expires is required: give the date (YYYY-MM-DD) after which the exception must be renewed',
    ]);
  });

  it('rejects bad dates, unknown keys and broken YAML with file positions', () => {
    const e = thrown(() => parseExceptions('- id: CVE-1\n  reason: r\n  expires: 2025-02-30\n  expiry: 2025-01-01\n', 'ex.yaml'));
    expect(e.details.map((d) => `${d.line}:${d.field}: ${d.message}`)).toEqual([
      '3:exceptions[0].expires: entry 0 (CVE-1): expires 2025-02-30 is not a calendar date: 2025-02 has 28 days',
      '4:exceptions[0]: entry 0 (CVE-1): unknown key(s) "expiry" (allowed: id, package, reason, expires)',
    ]);
    const y = thrown(() => parseExceptions('exceptions:\n  - id: [\n', 'ex.yaml'));
    expect(y.message).toBe('ex.yaml is not valid YAML or JSON');
    expect(y.details[0]!.file).toBe('ex.yaml');
    expect(thrown(() => parseExceptions('exception: []\n', 'ex.yaml')).details[0]!.message).toContain('unknown top-level key(s) "exception"');
    expect(parseExceptions('', 'empty.yaml')).toEqual([]);
    expect(parseExceptions('exceptions:\n', 'empty.yaml')).toEqual([]);
  });
});

describe('evaluateScan: digest binding', () => {
  it('accepts a report about the digest', async () => {
    const r = await scan('with-digest.json', { digest: DIGEST });
    expect(r.passed).toBe(true);
  });

  it('refuses a report about another image or without a repository digest', async () => {
    const other = 'sha256:' + 'e'.repeat(64);
    const bare = parseTrivyReport(JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x', ArtifactType: 'container_image' }), 'x.json');
    const e = thrown(() => evaluateScan(bare, { digest: other }, NOW));
    expect(e.code).toBe('SCAN_BLOCKED');
    expect(e.message).toBe(
      `the scan report is for x (no repository digest recorded) not for ${other}: scan the image by digest (\`trivy image --format json <repository>@${other}\`) and pass that report`,
    );
    const r = await report('with-digest.json');
    expect(thrown(() => evaluateScan(r, { digest: other }, NOW)).message).toMatch(
      new RegExp(`^the scan report is for registry\\.example\\.com/team/api@${DIGEST} \\(repository digests registry\\.example\\.com/team/api@${DIGEST}\\) not for ${other}`),
    );
    expect(thrown(() => evaluateScan(r, { digest: 'latest' }, NOW)).details[0]!.message).toContain('sha256:<64 hex>');
  });
});

describe('non-root check on the report', () => {
  it('reuses the policy check on Metadata.ImageConfig.config.User', async () => {
    expect(checkUser(imageUser(await report('clean-nonroot.json'))).passed).toBe(true);
    expect(checkUser(imageUser(await report('with-digest.json'))).passed).toBe(true);
    expect(checkUser(imageUser(await report('high-critical.json'))).passed).toBe(false);
    expect(checkUser(imageUser(await report('medium-root.json'))).actual).toBe('no USER set (runs as root)');
  });
});

describe('forge scan CLI with --unverified-scan-report (laptop only)', () => {
  let out = '';
  let err = '';
  let dir = '';
  beforeEach(async () => {
    out = '';
    err = '';
    dir = await mkdtemp(join(tmpdir(), 'forge-scan-test-'));
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    process.exitCode = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  /** The image a fixture report is about (its first RepoDigests entry), or an unrelated one. */
  const imageOf = async (name: string) => {
    let digests: string[] = [];
    try {
      digests = (JSON.parse(await readFile(fixture(name), 'utf8')) as { Metadata?: { RepoDigests?: string[] } }).Metadata?.RepoDigests ?? [];
    } catch {
      // truncated on purpose
    }
    return digests[0] ?? `registry.example.com/team/other@sha256:${'d'.repeat(64)}`;
  };
  const unverified = async (name: string, file = fixture(name)) => ['--image', await imageOf(name), '--unverified-scan-report', file];

  it('exits 0 and writes passed=true for a clean image, with a loud warning every time', async () => {
    await main([...(await unverified('clean-nonroot.json')), '--outputs-dir', dir]);
    expect(process.exitCode).toBeUndefined();
    expect(out).toContain('scan PASSED: registry.example.com/team/api:1.4.0');
    expect(out).toContain(`report: UNVERIFIED report file ${fixture('clean-nonroot.json')}`);
    expect(err.split('!!! WARNING: UNVERIFIED SCAN REPORT: the scan gate is reading a report file that no scanner signed')).toHaveLength(2);
    expect(await readFile(join(dir, 'passed'), 'utf8')).toBe('true');
    expect(JSON.parse(await readFile(join(dir, 'scan-summary.json'), 'utf8'))).toEqual({
      passed: true,
      threshold: 'HIGH',
      counts: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0, total: 0 },
      blocking: 0,
      blockingIds: [],
      excepted: 0,
      expiredExceptions: [],
      ignoredUnfixed: 0,
      report: `UNVERIFIED report file ${fixture('clean-nonroot.json')}`,
    });
    await main(await unverified('clean-nonroot.json'));
    expect(err.split('!!! WARNING: UNVERIFIED SCAN REPORT')).toHaveLength(3);
  });

  it('is refused inside Argo, where only the scanner-signed attestation counts', async () => {
    vi.stubEnv('ARGO_NODE_ID', 'verify-and-promote-1234');
    vi.stubEnv('FORGE_TERMINATION_LOG', join(dir, 'termination-log'));
    await main([...(await unverified('clean-nonroot.json')), '--outputs-dir', dir]);
    expect(process.exitCode).toBe(2);
    expect(err).toContain('INVALID_ARGS: --unverified-scan-report is refused inside Argo: the scan gate there trusts only vulnerability attestations signed by the platform scanner');
    expect(err).not.toContain('!!! WARNING');
    expect(await readFile(join(dir, 'passed'), 'utf8')).toBe('false');
    err = '';
    await main(['--image', await imageOf('clean-nonroot.json'), '--scanner-key', fixture('clean-nonroot.json'), '--transparency-log', 'false']);
    expect(err).toContain('INVALID_ARGS: --scanner-key/--scanner-identity is refused inside Argo');
  });

  it('exits 1 when the gate fails, prints the result as JSON and writes passed=false', async () => {
    await main([...(await unverified('high-critical.json')), '--output', 'json', '--outputs-dir', dir, '--exceptions', fixture('exceptions.yaml')]);
    expect(process.exitCode).toBe(1);
    const result = JSON.parse(out);
    expect(result).toMatchObject({ passed: false, verified: false, origin: `UNVERIFIED report file ${fixture('high-critical.json')}` });
    expect(result.excepted).toHaveLength(2);
    expect(await readFile(join(dir, 'passed'), 'utf8')).toBe('false');
    const summary = JSON.parse(await readFile(join(dir, 'scan-summary.json'), 'utf8'));
    expect(summary).toMatchObject({ passed: false, blocking: 2, blockingIds: ['CVE-2023-0286', 'CVE-2022-37434'], excepted: 2 });
  });

  it('takes threshold and ignore-unfixed from options or FORGE_ environment variables', async () => {
    await main([...(await unverified('unfixed-high.json')), '--ignore-unfixed']);
    expect(process.exitCode).toBeUndefined();
    expect(out).toContain('ignored without a fix: 2');
    out = '';
    vi.stubEnv('FORGE_THRESHOLD', 'critical');
    await main([...(await unverified('high-critical.json')), '--output', 'json']);
    vi.unstubAllEnvs();
    expect(process.exitCode).toBe(1);
    expect(JSON.parse(out).threshold).toBe('CRITICAL');
  });

  it('fails on an expired exception with the readable summary', async () => {
    await main([...(await unverified('unfixed-high.json')), '--exceptions', fixture('exceptions-expired.yaml'), '--threshold', 'HIGH']);
    expect(process.exitCode).toBe(1);
    expect(out).toContain('expired exceptions (1):\n    CVE-2022-3715 (bash) expired 2024-06-30: bash is only used by the entrypoint script, no untrusted input');
    expect(out).toContain('the exception for CVE-2022-3715 for bash expired on 2024-06-30');
  });

  it('keeps scan-summary.json small: at most 20 blocking ids', () => {
    const blocking = Array.from({ length: 30 }, (_, i) => ({ id: `CVE-2024-${1000 + i}`, package: 'p', installed: '1', fixed: '2', severity: 'HIGH' as const, target: 't' }));
    const s = scanSummary({ passed: false, artifact: 'a', threshold: 'HIGH', ignoreUnfixed: false, summary: { CRITICAL: 0, HIGH: 30, MEDIUM: 0, LOW: 0, UNKNOWN: 0, total: 30 }, blocking, excepted: [], expiredExceptions: [], ignoredUnfixed: 0, message: '' });
    expect(s.blockingIds).toHaveLength(MAX_SUMMARY_IDS);
    expect(s.blockingIdsTruncated).toBe(true);
  });

  it('refuses a report about another digest (exit 1, SCAN_BLOCKED) and still writes passed=false', async () => {
    await main(['--image', `registry.example.com/team/api@sha256:${'e'.repeat(64)}`, '--unverified-scan-report', fixture('with-digest.json'), '--outputs-dir', dir]);
    expect(process.exitCode).toBe(1);
    expect(err).toContain('error: SCAN_BLOCKED: ');
    expect(err).toContain('the scan report is for registry.example.com/team/api@');
    expect(await readFile(join(dir, 'passed'), 'utf8')).toBe('false');
    expect(JSON.parse(await readFile(join(dir, 'scan-summary.json'), 'utf8')).error.code).toBe('SCAN_BLOCKED');
  });

  it('reports unreadable, malformed and non-image reports, and bad exception files', async () => {
    await main(await unverified('truncated.json'));
    expect(process.exitCode).toBe(2);
    expect(err).toContain(`${fixture('truncated.json')} is not valid JSON`);
    err = '';
    await main(await unverified('filesystem.json'));
    expect(err).toContain('is not an image report');
    err = '';
    await main(await unverified('clean-nonroot.json', join(dir, 'missing.json')));
    expect(err).toContain('cannot read the Trivy report');
    err = '';
    process.exitCode = undefined;
    await main([...(await unverified('clean-nonroot.json')), '--exceptions', fixture('exceptions-no-reason.yaml')]);
    expect(process.exitCode).toBe(1);
    expect(err).toContain('INVALID_CONFIG');
    expect(err).toContain('exceptions[1].reason: entry 1 (CVE-2022-37434): reason is required');
  });

  it('needs an image pinned by digest', async () => {
    await main(['--unverified-scan-report', fixture('clean-nonroot.json')]);
    expect(process.exitCode).toBe(2);
    expect(err).toContain('--image');
    err = '';
    await main(['--image', 'registry.example.com/team/api:1.4.0', '--unverified-scan-report', fixture('clean-nonroot.json')]);
    expect(process.exitCode).toBe(2);
    expect(err).toContain('--image: must be pinned by digest');
  });
});
