import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { buildImage } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { attestScan, trivyReport } from '../../test/helpers/trivy.ts';
import { attestImage, generateKeyPair } from '../lib/cosign.ts';
import { isPlainHttpRegistry, runTool } from '../lib/exec.ts';
import { VULN_PREDICATE_TYPE, vulnPredicate } from '../lib/predicates.ts';
import { attestedScanReport, namesDigest } from './attested.ts';
import { parseTrivyReport } from './report.ts';
import { readScan, SCAN_POLL_MS, UNVERIFIED_WARNING } from './source.ts';

/**
 * Where the scan gate's report comes from, on a real docker-registry with keys made and
 * attestations signed by the real cosign: only a vulnerability attestation the scanner signed, the
 * newest one, and only its verified payload; or, asked for by name, an unverified file.
 */
let registry: Registry;
let work: string;
let scannerKey: { privateKey: string; publicKey: string };
let otherKey: { privateKey: string; publicKey: string };

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-attested-test-'));
  [scannerKey, otherKey] = (await Promise.all(['scanner', 'other'].map(async (d) => generateKeyPair(await mkdtemp(join(work, `${d}-`)))))) as [typeof scannerKey, typeof scannerKey];
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const scanner = () => ({ key: scannerKey.publicKey, transparencyLog: false, label: 'scanner' });
const T = (minute: number) => new Date(Date.UTC(2025, 5, 1, 12, minute));
/** scanFinishedOn as cosign writes it (RFC 3339, no fraction). */
const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
const critical = [{ id: 'CVE-2024-0888', pkg: 'curl', severity: 'CRITICAL' as const, fixed: '8.0.1' }];

let counter = 0;
/** A fresh image by digest, with its repository and the Trivy report a scanner would make of it. */
async function image(vulns: { id: string; pkg: string; severity: 'CRITICAL' }[] = []) {
  const repository = `${registry.host}/team/scanned-${++counter}`;
  const digest = await buildImage(`${repository}:1.0.0`, { user: '1000' });
  const reference = `${repository}@${digest}`;
  return { reference, digest, report: trivyReport(repository, digest, '1000', vulns) as { ArtifactName: string } };
}

/**
 * Attests a hand-made vuln predicate as it is: with `--type vuln` cosign rewrites the predicate into
 * its own struct, but with the predicate type's URI it signs the JSON unchanged (and
 * `verify-attestation --type vuln` returns it), so a misconfigured scanner can sign anything.
 */
async function attestPredicate(reference: string, predicate: unknown): Promise<void> {
  const file = join(work, `predicate-${++counter}.json`);
  await writeFile(file, JSON.stringify(predicate));
  await attestImage(reference, file, VULN_PREDICATE_TYPE, { key: scannerKey.privateKey, transparencyLog: false });
}

const signHint = (reference: string) =>
  `sign the scan result with the scanner: \`trivy image --format cosign-vuln --output vuln.json ${reference}\` then \`cosign attest --type vuln --predicate vuln.json --key <scanner key> ${reference}\``;

describe('attestedScanReport', () => {
  it("returns the report of the scanner's attestation, who signed it and when the scan finished", async () => {
    const c = await image(critical);
    await attestScan(c.reference, c.report, scannerKey.privateKey, { finishedOn: T(5) });
    expect(await attestedScanReport(c.reference, scanner())).toEqual({
      report: parseTrivyReport(JSON.stringify(c.report), 'the report'),
      scanner: 'scanner',
      scannedAt: iso(T(5)),
      attestations: 1,
    });
  }, 60_000);

  it('reads the newest of several, in whatever order they were attached', async () => {
    const c = await image();
    const newest = trivyReport(c.reference.split('@')[0]!, c.digest, '1000', critical);
    await attestScan(c.reference, c.report, scannerKey.privateKey, { finishedOn: T(2) });
    await attestScan(c.reference, newest, scannerKey.privateKey, { finishedOn: T(3) });
    await attestScan(c.reference, c.report, scannerKey.privateKey, { finishedOn: T(1) });
    const got = await attestedScanReport(c.reference, scanner());
    expect([got.scannedAt, got.attestations, got.report.Results[0]!.Vulnerabilities.map((v) => v.VulnerabilityID)]).toEqual([iso(T(3)), 3, ['CVE-2024-0888']]);
  }, 60_000);

  it('a dated scan wins over one without a finish time; alone, the latter has no time', async () => {
    const c = await image();
    const { metadata: _, ...undated } = vulnPredicate(c.report);
    await attestPredicate(c.reference, undated);
    expect((await attestedScanReport(c.reference, scanner())).scannedAt).toBe('');
    await attestScan(c.reference, trivyReport(c.reference.split('@')[0]!, c.digest, '1000', critical), scannerKey.privateKey, { finishedOn: T(0) });
    const got = await attestedScanReport(c.reference, scanner());
    expect([got.scannedAt, got.attestations, got.report.Results[0]!.Vulnerabilities.length]).toEqual([iso(T(0)), 2, 1]);
  }, 60_000);

  it('refuses an image without a vulnerability attestation, or with one signed by another key, saying how to sign one', async () => {
    const c = await image();
    // cosign's reason, without the wrapper's own prefix or a dangling colon.
    const reasons: [() => Promise<void>, string][] = [
      [async () => undefined, 'no matching attestations'],
      [async () => attestScan(c.reference, c.report, otherKey.privateKey), 'no matching attestations: accepted signatures do not match threshold, Found: 0, Expected 1'],
    ];
    for (const [attest, reason] of reasons) {
      await attest();
      expect((await failure(attestedScanReport(c.reference, scanner()))).toJSON()).toEqual({
        code: 'SCAN_BLOCKED',
        message: `no trusted scan result for ${c.reference}: no vulnerability attestation (https://cosign.sigstore.dev/attestation/vuln/v1) verifies with the scanner scanner: ${reason}`,
        details: [{ field: 'vulnerability attestation', message: signHint(c.reference) }],
      });
    }
  }, 60_000);

  it('passes on an error that is not a failed verification, and needs a reference by digest', async () => {
    const c = await image();
    const noKey = await failure(attestedScanReport(c.reference, { transparencyLog: false, label: 'nobody' }));
    expect(noKey.toJSON()).toEqual({ code: 'INVALID_ARGS', message: 'signature verification needs a key (file, k8s:// secret or KMS URI) or a keyless identity and issuer', details: [] });
    expect((await failure(attestedScanReport(`${c.reference.split('@')[0]}:1.0.0`, scanner()))).code).toBe('INVALID_ARGS');
  }, 60_000);

  it('refuses an attestation without a scan result in it', async () => {
    const c = await image();
    const hint = 'attest the cosign-vuln wrapper (`trivy image --format cosign-vuln`), not the bare Trivy report: cosign drops fields it does not know';
    const cases: [unknown, string][] = [
      [{ ...vulnPredicate(null), scanner: undefined }, 'missing'],
      [vulnPredicate(null), 'null'],
      [vulnPredicate('no vulnerabilities'), '"no vulnerabilities"'],
    ];
    for (const [predicate, shown] of cases) {
      await attestPredicate(c.reference, { ...(predicate as object), metadata: { scanFinishedOn: T(10 + counter).toISOString() } });
      expect((await failure(attestedScanReport(c.reference, scanner()))).toJSON()).toEqual({
        code: 'SCAN_BLOCKED',
        message: `no trusted scan result for ${c.reference}: the vulnerability attestation signed by scanner carries no scan result (predicate.scanner.result is ${shown})`,
        details: [{ field: 'vulnerability attestation', message: hint }],
      });
    }
    // No predicate at all (and so no finish time either).
    const bare = await image();
    await attestPredicate(bare.reference, null);
    expect((await failure(attestedScanReport(bare.reference, scanner()))).message).toBe(
      `no trusted scan result for ${bare.reference}: the vulnerability attestation signed by scanner carries no scan result (predicate.scanner.result is missing)`,
    );
  }, 60_000);

  it('refuses a signed result that is not an image report, with the parser details', async () => {
    const c = await image();
    await attestScan(c.reference, { ...c.report, ArtifactType: 'filesystem', ArtifactName: 'services/api' }, scannerKey.privateKey);
    const e = await failure(attestedScanReport(c.reference, scanner()));
    const file = `the vulnerability attestation of ${c.reference}`;
    expect(e.toJSON()).toEqual({
      code: 'SCAN_BLOCKED',
      message: `no trusted scan result for ${c.reference}: ${file} is not an image report: it is a "filesystem" report of services/api, and the scan gate only accepts ArtifactType "container_image"`,
      details: [{ file, field: 'ArtifactType', message: 'scan the container image itself: `trivy image --format json <image>@<digest>`' }],
    });
  }, 60_000);
});

describe('statements cosign passes on', () => {
  /**
   * Signs in-toto statements by hand (DSSE, ECDSA P-256, which `cosign verify-attestation --key`
   * checks) and attaches them with `cosign attach attestation`: statements cosign attest never
   * writes, to see which of them `verify-attestation --type vuln` returns to the gate.
   */
  async function attachStatements(reference: string, statements: object[]): Promise<string> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = join(work, `hand-${++counter}.pub`);
    await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const type = 'application/vnd.in-toto+json';
    for (const statement of statements) {
      const payload = Buffer.from(JSON.stringify(statement));
      const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
      const file = join(work, `envelope-${++counter}.json`);
      await writeFile(file, JSON.stringify({ payloadType: type, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: sign('sha256', pae, privateKey).toString('base64') }] }));
      const http = isPlainHttpRegistry(reference) ? ['--allow-http-registry', '--allow-insecure-registry'] : [];
      await runTool('cosign', ['attach', 'attestation', ...http, '--attestation', file, reference]);
    }
    return pub;
  }

  it('only statements of the vuln type that name the digest reach the gate, which reads them', async () => {
    const c = await image(critical);
    const hex = c.digest.replace('sha256:', '');
    const statement = (predicateType: string, subject: object[], report: object) => ({ _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject, predicate: vulnPredicate(report) });
    const elsewhere = { name: 'other', digest: { sha256: 'b'.repeat(64) } };
    const key = await attachStatements(c.reference, [
      statement(VULN_PREDICATE_TYPE, [elsewhere], { ...c.report, ArtifactName: 'about another image' }),
      statement('https://example.com/other/v1', [{ name: 'app', digest: { sha256: hex } }], { ...c.report, ArtifactName: 'of another type' }),
      // Several subjects, ours among them.
      statement(VULN_PREDICATE_TYPE, [elsewhere, { name: 'app', digest: { sha256: hex } }], c.report),
    ]);
    const got = await attestedScanReport(c.reference, { key, transparencyLog: false, label: 'hand' });
    expect([got.attestations, got.scanner, got.report.ArtifactName]).toEqual([1, 'hand', c.report.ArtifactName]);
  }, 60_000);

  it('namesDigest: a subject entry whose own digest of that algorithm is this one', () => {
    const hex = 'a'.repeat(64);
    const digest = `sha256:${hex}`;
    const names = (subject: unknown) => namesDigest(subject, digest);
    expect([names([{ name: 'x', digest: { sha256: hex } }]), names([null, 'x', { digest: null }, { digest: { sha256: hex } }])]).toEqual([true, true]);
    expect(names([{ digest: { sha256: 'b'.repeat(64) } }, { digest: { sha512: hex } }, {}, null, 7])).toBe(false);
    expect([names([]), names(undefined), names({ digest: { sha256: hex } }), names('sha256:' + hex)]).toEqual([false, false, false, false]);
    // Inherited keys do not count.
    expect(names([{ digest: Object.create({ sha256: hex }) as object }])).toBe(false);
  });
});

describe('readScan', () => {
  afterEach(() => vi.restoreAllMocks());

  /** A real pino logger writing JSON lines into `lines`. */
  function logger() {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    return { log: pino({ base: null, timestamp: false }, sink), lines };
  }

  it('reads the attestation by default and says whose and when', async () => {
    const c = await image();
    await attestScan(c.reference, c.report, scannerKey.privateKey, { finishedOn: T(7) });
    const { log, lines } = logger();
    const got = await readScan(c.reference, { kind: 'attestation', scanner: scanner() }, log);
    expect([got.origin, got.verified, got.report.ArtifactName]).toEqual([`vulnerability attestation by scanner (scan finished ${iso(T(7))})`, true, c.report.ArtifactName]);
    expect(lines).toEqual([]);
    const undated = await image();
    const { metadata: _, ...predicate } = vulnPredicate(undated.report);
    await attestPredicate(undated.reference, predicate);
    expect((await readScan(undated.reference, { kind: 'attestation', scanner: scanner() }, log)).origin).toBe('vulnerability attestation by scanner (scan finished at an unknown time)');
  }, 60_000);

  it('waits for the scanner when told to: an attestation that arrives while it waits is read; none by the deadline is refused', async () => {
    const c = await image();
    const { log, lines } = logger();
    const started = Date.now();
    const late = new Promise((r) => setTimeout(r, 1500)).then(() => attestScan(c.reference, c.report, scannerKey.privateKey, { finishedOn: T(9) }));
    const got = await readScan(c.reference, { kind: 'attestation', scanner: scanner() }, log, 30_000);
    await late;
    expect(got.origin).toBe(`vulnerability attestation by scanner (scan finished ${iso(T(9))})`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(SCAN_POLL_MS);
    expect(lines[0]).toMatchObject({ level: 30, image: c.reference, msg: 'no attestation by the scanner yet: waiting for it' });
    // Without a wait, or past it: refused as before.
    const none = await image();
    await expect(readScan(none.reference, { kind: 'attestation', scanner: scanner() }, log, 0)).rejects.toThrow(/no matching attestations/);
    const before = Date.now();
    await expect(readScan(none.reference, { kind: 'attestation', scanner: scanner() }, log, SCAN_POLL_MS + 1000)).rejects.toThrow(/no matching attestations/);
    expect(Date.now() - before).toBeLessThan(3 * SCAN_POLL_MS);
  }, 90_000);

  it('reads an unverified report file only when named, warning in the log and on stderr', async () => {
    const file = join(work, 'unverified.json');
    const c = await image(critical);
    await writeFile(file, JSON.stringify(c.report));
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
    const { log, lines } = logger();
    const got = await readScan(c.reference, { kind: 'unverified-report', file }, log);
    expect([got.origin, got.verified, got.report]).toEqual([`UNVERIFIED report file ${file}`, false, parseTrivyReport(JSON.stringify(c.report), file)]);
    expect(lines).toEqual([{ level: 40, unverifiedScanReport: file, image: c.reference, msg: UNVERIFIED_WARNING }]);
    expect(err).toBe(`\n!!! WARNING: ${UNVERIFIED_WARNING}\n!!! report: ${file}\n\n`);
  }, 60_000);
});
