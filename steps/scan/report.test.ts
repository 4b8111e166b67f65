import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { ForgeError } from '../lib/errors.ts';
import { hasImageConfig, imageUser, parseTrivyReport, readReport } from './report.ts';

/**
 * The Trivy report parser on its own: what it reads, what it fills in for the fields Trivy omits,
 * and the exact refusal (code, message, the hint in the details) for every input it does not read.
 * The gate's verdicts on parsed reports are in gate.test.ts.
 */
function refusal(json: string, file = 'r.json'): ForgeError {
  try {
    parseTrivyReport(json, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error(`expected ${json} to be refused`);
}
const image = (extra: object = {}) => JSON.stringify({ SchemaVersion: 2, ArtifactName: 'reg.example/app@sha256:1', ArtifactType: 'container_image', ...extra });

describe('parseTrivyReport refuses what it does not read', () => {
  it('malformed JSON, naming the file and the JSON error', () => {
    const e = refusal('{"SchemaVersion": 2,', 'half.json');
    let syntax = '';
    try {
      JSON.parse('{"SchemaVersion": 2,');
    } catch (err) {
      syntax = (err as Error).message;
    }
    expect(e.toJSON()).toEqual({
      code: 'INVALID_ARGS',
      message: `half.json is not valid JSON: ${syntax}`,
      details: [{ file: 'half.json', message: 'expected a Trivy JSON report (`trivy image --format json --output <file> <image>`)' }],
    });
  });

  it('JSON that is not an object with a SchemaVersion (SARIF lists, scalars, null, other objects)', () => {
    for (const json of ['[]', '[{"SchemaVersion": 2}]', 'null', '"SchemaVersion"', '2', 'true', '{"version": "2.1.0", "runs": []}']) {
      expect(refusal(json, 'other.json').toJSON(), json).toEqual({
        code: 'INVALID_ARGS',
        message: 'other.json is not a Trivy JSON report (no SchemaVersion)',
        details: [{ file: 'other.json', message: 'produce it with `trivy image --format json` (table, SARIF, CycloneDX and cosign-vuln formats are not read)' }],
      });
    }
  });

  it('any SchemaVersion but the number 2, quoting the value found', () => {
    for (const [version, shown] of [[1, '1'], ['2', '"2"'], [null, 'null'], [3, '3']] as const) {
      expect(refusal(JSON.stringify({ SchemaVersion: version, ArtifactType: 'container_image' }), 'old.json').toJSON()).toEqual({
        code: 'INVALID_ARGS',
        message: `old.json has Trivy report SchemaVersion ${shown}; only SchemaVersion 2 is read`,
        details: [{ file: 'old.json', field: 'SchemaVersion', message: 'regenerate the report with a current trivy (SchemaVersion 2 since v0.20)' }],
      });
    }
  });

  it('a SchemaVersion 2 report of the wrong shape, with one detail per wrong field', () => {
    const e = refusal(image({ ArtifactName: 7, Results: [{ Target: 't', Vulnerabilities: [{ VulnerabilityID: '' }, { VulnerabilityID: 'CVE-1', VendorIDs: 'GHSA-1' }] }] }), 'bad.json');
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toBe('bad.json does not have the shape of a Trivy JSON report');
    expect(e.details.map((d) => [d.file, d.field])).toEqual([
      ['bad.json', 'ArtifactName'],
      ['bad.json', 'Results.0.Vulnerabilities.0.VulnerabilityID'],
      ['bad.json', 'Results.0.Vulnerabilities.1.VendorIDs'],
    ]);
    expect(e.details[1]!.message).toMatch(/>=1 characters/);
  });

  it('a report about something other than an image, named by its ArtifactType and ArtifactName', () => {
    const hint = { file: 'fs.json', field: 'ArtifactType', message: 'scan the container image itself: `trivy image --format json <image>@<digest>`' };
    expect(refusal(JSON.stringify({ SchemaVersion: 2, ArtifactName: 'services/api', ArtifactType: 'filesystem' }), 'fs.json').toJSON()).toEqual({
      code: 'INVALID_ARGS',
      message: 'fs.json is not an image report: it is a "filesystem" report of services/api, and the scan gate only accepts ArtifactType "container_image"',
      details: [hint],
    });
    expect(refusal(JSON.stringify({ SchemaVersion: 2 }), 'fs.json').message).toBe(
      'fs.json is not an image report: it is a report without ArtifactType of (unnamed artifact), and the scan gate only accepts ArtifactType "container_image"',
    );
    expect(refusal(JSON.stringify({ SchemaVersion: 2, ArtifactType: '', ArtifactName: 'x' }), 'fs.json').message).toMatch(/^fs\.json is not an image report: it is a report without ArtifactType of x,/);
  });
});

describe('parseTrivyReport reads what Trivy omits as empty', () => {
  it('fills in a minimal finding: no vendor ids, empty package and version, no fix, status or title', () => {
    const r = parseTrivyReport(image({ Results: [{ Vulnerabilities: [{ VulnerabilityID: 'CVE-1', FixedVersion: null, Status: null, Title: null, VendorIDs: null }] }] }), 'r.json');
    // toEqual: a null Trivy wrote must come out undefined (absent), never null.
    expect(r.Results).toEqual([
      {
        Target: '',
        Class: undefined,
        Type: undefined,
        Vulnerabilities: [{ VulnerabilityID: 'CVE-1', VendorIDs: [], PkgName: '', InstalledVersion: '', FixedVersion: undefined, Status: undefined, Severity: 'UNKNOWN', Title: undefined }],
      },
    ]);
  });

  it('keeps the fields it reads and drops the rest', () => {
    const v = { VulnerabilityID: 'CVE-2', VendorIDs: ['GHSA-x'], PkgName: 'openssl', InstalledVersion: '3.0.1', FixedVersion: '3.0.2', Status: 'fixed', Severity: 'HIGH', Title: 't', CVSS: {} };
    const r = parseTrivyReport(image({ CreatedAt: 'now', Results: [{ Target: 'a (debian)', Class: 'os-pkgs', Type: 'debian', Vulnerabilities: [v], Packages: [] }] }), 'r.json');
    const { CVSS: _, ...read } = v;
    expect(r.Results).toStrictEqual([{ Target: 'a (debian)', Class: 'os-pkgs', Type: 'debian', Vulnerabilities: [read] }]);
    expect(r).not.toHaveProperty('CreatedAt');
    const m = parseTrivyReport(image({ Metadata: { ImageID: 'sha256:2', RepoTags: ['app:1'], Size: 20971520, DiffIDs: [] } }), 'r.json').Metadata;
    expect(m).toStrictEqual({ ImageID: 'sha256:2', RepoDigests: [], RepoTags: ['app:1'], Size: 20971520 });
  });

  it('reads severities in any case and anything else (or nothing) as UNKNOWN', () => {
    const severities = ['critical', 'High', 'MEDIUM', 'low', 'unknown', 'SEVERE', '', null, undefined];
    const r = parseTrivyReport(image({ Results: [{ Vulnerabilities: severities.map((Severity, i) => ({ VulnerabilityID: `CVE-${i}`, Severity })) }] }), 'r.json');
    expect(r.Results[0]!.Vulnerabilities.map((v) => v.Severity)).toEqual(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN', 'UNKNOWN', 'UNKNOWN', 'UNKNOWN', 'UNKNOWN']);
  });

  it('reads missing or null Metadata and Results as empty', () => {
    for (const extra of [{}, { Metadata: null, Results: null }]) {
      const r = parseTrivyReport(image(extra), 'r.json');
      expect(r.Metadata).toEqual({ ImageID: undefined, RepoDigests: [], RepoTags: [], ImageConfig: undefined, Size: undefined });
      expect(r.Results).toEqual([]);
    }
  });
});

describe('the image user', () => {
  const meta = (Metadata: unknown) => parseTrivyReport(image({ Metadata }), 'r.json');

  it('is the configured User, and the config counts as present without one', () => {
    expect([imageUser(meta({ ImageConfig: { config: { User: '10001' } } })), hasImageConfig(meta({ ImageConfig: { config: { User: '10001' } } }))]).toEqual(['10001', true]);
    // An empty User is root as far as the image says; the config is there to say it.
    expect([imageUser(meta({ ImageConfig: { config: {} } })), hasImageConfig(meta({ ImageConfig: { config: {} } }))]).toEqual([undefined, true]);
  });

  it('is unknown (not root) when the report has no image config', () => {
    for (const m of [{}, { ImageConfig: null }, { ImageConfig: {} }, { ImageConfig: { config: null } }]) {
      expect([imageUser(meta(m)), hasImageConfig(meta(m))], JSON.stringify(m)).toEqual([undefined, false]);
    }
  });
});

describe('readReport (--unverified-scan-report)', () => {
  it('parses the file, and names the file and the flag when it cannot be read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-report-test-'));
    try {
      const file = join(dir, 'report.json');
      await writeFile(file, image({ Metadata: { RepoDigests: ['reg.example/app@sha256:1'] } }));
      expect((await readReport(file)).Metadata.RepoDigests).toEqual(['reg.example/app@sha256:1']);
      const missing = join(dir, 'missing.json');
      expect((await failure(readReport(missing))).toJSON()).toEqual({
        code: 'INVALID_ARGS',
        message: `cannot read the Trivy report ${missing}: ENOENT`,
        details: [{ file: missing, message: 'check the --unverified-scan-report path' }],
      });
      await writeFile(file, '{');
      expect((await failure(readReport(file))).message).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')} is not valid JSON: `));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
