import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../test/helpers/fault-proxy.ts';
import { buildImage, buildIndex, catalog } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { attestScan, trivyReport, type Vuln } from '../../test/helpers/trivy.ts';
import { attestPromotion } from '../attest/attest.ts';
import { PROMOTION_PREDICATE_TYPE } from '../attest/predicate.ts';
import { promoteDigest } from '../copy/copy.ts';
import { attestImage, generateKeyPair, signatureTag, signImage, verifyAttestation } from '../lib/cosign.ts';
import { copy, crane, exists } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import { openDatabase, type Database } from '../lib/records/db.ts';
import { PromotionRecords } from '../lib/records/records.ts';
import { promote, type PromoteConfig } from './promote.ts';

/**
 * verify-and-promote end to end on real components: two docker-registry instances (incoming and
 * trusted), keys made by cosign, images built with crane, PGlite records.
 */
let incoming: Registry;
let trusted: Registry;
let work: string;
let devKey: { privateKey: string; publicKey: string };
let otherKey: { privateKey: string; publicKey: string };
let promotionKey: { privateKey: string; publicKey: string };
let scannerKey: { privateKey: string; publicKey: string };
let db: Database;
let records: PromotionRecords;

beforeAll(async () => {
  [incoming, trusted] = await Promise.all([startRegistry(), startRegistry()]);
  work = await mkdtemp(join(tmpdir(), 'forge-promote-test-'));
  const dirs = ['dev', 'other', 'promotion', 'scanner'].map((d) => join(work, d));
  const made = await Promise.all(dirs.map(async (d) => generateKeyPair(await mkdtemp(`${d}-`))));
  [devKey, otherKey, promotionKey, scannerKey] = made as [typeof devKey, typeof devKey, typeof devKey, typeof devKey];
  db = await openDatabase({ dataDir: join(work, 'records') });
  records = new PromotionRecords(db);
}, 120_000);

afterAll(async () => {
  await db?.close();
  await Promise.all([incoming?.stop(), trusted?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

let counter = 0;
/**
 * A fresh signed image in the incoming registry with its scan result: by default the scanner's
 * vulnerability attestation on the digest (`scan`: who signs it, or none); the same report is also
 * written to a file (what a submitter could hand over, and what --unverified-scan-report reads).
 */
async function candidate(opts: { user?: string; vulns?: Vuln[]; sign?: 'dev' | 'other' | 'none'; scan?: 'scanner' | 'dev' | 'none'; tag?: string; layerBytes?: number; index?: boolean } = {}) {
  const name = `team/app-${++counter}`;
  const repository = `${incoming.host}/${name}`;
  const reference = `${repository}:${opts.tag ?? '1.0.0'}`;
  const digest = opts.index ? await buildIndex(reference) : await buildImage(reference, { user: opts.user ?? '1000', ...(opts.layerBytes ? { layerBytes: opts.layerBytes } : {}) });
  const signer = opts.sign ?? 'dev';
  if (signer !== 'none') await signImage(`${repository}@${digest}`, { key: signer === 'dev' ? devKey.privateKey : otherKey.privateKey, transparencyLog: false });
  const report = join(work, `report-${counter}.json`);
  const content = trivyReport(repository, digest, opts.user ?? '1000', opts.vulns ?? []);
  await writeFile(report, JSON.stringify(content));
  const scanSigner = opts.scan ?? 'scanner';
  if (scanSigner !== 'none') await attestScan(`${repository}@${digest}`, content, scanSigner === 'scanner' ? scannerKey.privateKey : devKey.privateKey);
  return { name, repository, reference, digest, report, trustedRepository: `${trusted.host}/forge/${name}` };
}

/** The scan source of every promotion here: attestations verified with the scanner's public key. */
const scanner = () => ({ kind: 'attestation' as const, scanner: { key: scannerKey.publicKey, transparencyLog: false, label: 'scanner' } });

function config(_report?: string, overrides: Partial<PromoteConfig> = {}): PromoteConfig {
  return {
    incoming: incoming.host,
    trusted: `${trusted.host}/forge`,
    verify: { key: devKey.publicKey, transparencyLog: false },
    scanSource: scanner(),
    scan: {},
    policy: { maxCompressedBytes: 10 * 1024 * 1024 },
    attest: { key: promotionKey.privateKey, verifyKey: promotionKey.publicKey },
    workflow: { name: 'test-workflow', uid: '00000000-0000-0000-0000-000000000001' },
    ...overrides,
  };
}

/** `FORGE_PRINT_REFUSALS=1 npx vitest run steps/promote` prints each refusal as a person sees it. */
function show(message: string): void {
  if (process.env.FORGE_PRINT_REFUSALS) console.log(message);
}

async function promotionCount(): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM promotions')).rows[0]!.n);
}

/** Promotion must be refused with `code`, leaving the trusted registry and the allowlist as they were. */
async function refused(image: string, cfg: PromoteConfig, code: string, message: RegExp): Promise<ForgeError> {
  const before = { repos: await catalog(trusted.url), rows: await promotionCount() };
  const e = await promote(image, cfg, records).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForgeError);
  const err = e as ForgeError;
  show(err.format());
  expect(err.code, err.format()).toBe(code);
  expect(err.format()).toMatch(message);
  expect(await catalog(trusted.url)).toEqual(before.repos);
  expect(await promotionCount()).toBe(before.rows);
  return err;
}

describe('verify-and-promote: a good image', () => {
  it('promotes the exact digest with its signature, attests and records it; a rerun changes nothing', async () => {
    const c = await candidate();
    const steps: string[] = [];
    const result = await promote(c.reference, config(c.report), records, (s) => steps.push(`${s.step}:${s.ok}`));
    // the three gates run together, so their order varies; everything else is sequential
    expect([steps[0], ...steps.slice(1, 4).sort(), ...steps.slice(4)]).toEqual(['resolve:true', 'policy:true', 'scan:true', 'verify:true', 'promote:true', 'attest:true', 'record:true']);
    expect(result.trustedReference).toBe(`${c.trustedRepository}@${c.digest}`);
    expect(result.created).toBe(true);
    // identical manifest bytes, signature tag carried along, attestation verifiable by the promotion key
    expect(await crane(['manifest', '--insecure', result.trustedReference])).toBe(await crane(['manifest', '--insecure', `${c.repository}@${c.digest}`]));
    expect(await exists(`${c.trustedRepository}:${signatureTag(c.digest, 'sig')}`)).toBe(true);
    const statements = (await verifyAttestation(result.trustedReference, PROMOTION_PREDICATE_TYPE, { key: promotionKey.publicKey, transparencyLog: false })) as {
      predicate: { source: string; digest: string; workflow: { name: string } };
    }[];
    expect(statements).toHaveLength(1);
    expect(statements[0]!.predicate).toMatchObject({ source: `${c.repository}@${c.digest}`, digest: c.digest, workflow: { name: 'test-workflow' } });
    expect(await records.isAllowed(result.trustedReference)).toBe(true);

    // The attestation digest names the attestation's own layer in the .att manifest ...
    const attestationTag = `${c.trustedRepository}:${signatureTag(c.digest, 'att')}`;
    const layers = () => crane(['manifest', '--insecure', attestationTag]).then((m) => (JSON.parse(m) as { layers: { digest: string }[] }).layers.map((l) => l.digest));
    // (beside the scanner's vulnerability attestation, copied along with the .att tag)
    expect(await layers()).toHaveLength(2);
    expect(await layers()).toContain(result.attestationDigest);
    // ... so it stays valid when another attestation (here an SBOM by the developer) is added later.
    const sbom = join(work, 'sbom.json');
    await writeFile(sbom, JSON.stringify({ packages: [] }));
    await attestImage(result.trustedReference, sbom, 'https://spdx.dev/Document', { key: devKey.privateKey, transparencyLog: false });
    expect(await layers()).toHaveLength(3);
    expect(await layers()).toContain(result.attestationDigest);

    const again = await promote(c.reference, config(c.report), records);
    expect(again).toMatchObject({ recordId: result.recordId, created: false, attestationDigest: result.attestationDigest });
    expect(await verifyAttestation(result.trustedReference, PROMOTION_PREDICATE_TYPE, { key: promotionKey.publicKey, transparencyLog: false })).toHaveLength(1);
  });

  it('promotes a multi-platform index, children before the index', async () => {
    const c = await candidate({ index: true });
    const result = await promote(c.reference, config(c.report), records);
    expect(await crane(['manifest', '--insecure', result.trustedReference])).toBe(await crane(['manifest', '--insecure', `${c.repository}@${c.digest}`]));
    const index = JSON.parse(await crane(['manifest', '--insecure', result.trustedReference])) as { manifests: { digest: string }[] };
    for (const child of index.manifests) expect(await exists(`${c.trustedRepository}@${child.digest}`)).toBe(true);
  });

  it('records one promotion when the same digest is promoted twice at once', async () => {
    const c = await candidate();
    const [a, b] = await Promise.all([promote(c.reference, config(c.report), records), promote(c.reference, config(c.report), records)]);
    show(`at once: record ids ${a.recordId} / ${b.recordId}, created ${a.created} / ${b.created}`);
    expect(a.recordId).toBe(b.recordId);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    const rows = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM promotions WHERE digest = $1', [c.digest]);
    expect(rows.rows[0]!.n).toBe('1');
    // attest takes turns per image, so the second finds the first's attestation and signs none
    expect(a.attestationDigest).toBe(b.attestationDigest);
    expect(await verifyAttestation(a.trustedReference, PROMOTION_PREDICATE_TYPE, { key: promotionKey.publicKey, transparencyLog: false })).toHaveLength(1);
  });
});

describe('verify-and-promote: attestations of one image at the same instant', () => {
  it('take turns through the records lock: the second finds the first and signs none', async () => {
    const c = await candidate();
    const { reference } = await promoteDigest(c.repository, c.digest, c.trustedRepository);
    const attest = (uid: string) =>
      records.exclusive(reference, () =>
        attestPromotion(
          reference,
          { source: `${c.repository}@${c.digest}`, digest: c.digest, trusted: reference, signer: 'dev', scan: {}, policy: [], workflow: { name: 'w', uid }, promotedAt: new Date().toISOString() },
          { key: promotionKey.privateKey, transparencyLog: false },
          { key: promotionKey.publicKey, transparencyLog: false },
        ),
      );
    const results = await Promise.all([attest('a'), attest('b')]);
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(results[0]!.attestationDigest).toBe(results[1]!.attestationDigest);
    expect(await verifyAttestation(reference, PROMOTION_PREDICATE_TYPE, { key: promotionKey.publicKey, transparencyLog: false })).toHaveLength(1);
  });
});

describe('verify-and-promote: refusals leave the trusted registry and the records unchanged', () => {
  it('refuses an unsigned image', async () => {
    const c = await candidate({ sign: 'none' });
    await refused(c.reference, config(c.report), 'SIGNATURE_INVALID', /no signatures found|no matching signatures/);
  });

  it('refuses an image signed by another key', async () => {
    const c = await candidate({ sign: 'other' });
    await refused(c.reference, config(c.report), 'SIGNATURE_INVALID', /signature/);
  });

  it('refuses an image whose signature was tampered with after signing', async () => {
    const a = await candidate();
    const b = await candidate();
    // b's signature (over b's digest) put where a's signature belongs
    await copy(`${b.repository}:${signatureTag(b.digest, 'sig')}`, `${a.repository}:${signatureTag(a.digest, 'sig')}`);
    await refused(a.reference, config(a.report), 'SIGNATURE_INVALID', /signature/);
  });

  it('refuses an image referenced as latest', async () => {
    const c = await candidate({ tag: 'latest' });
    await refused(c.reference, config(c.report), 'POLICY_VIOLATION', /not-latest: required a version tag or a digest, not "latest"; actual tag "latest"/);
  });

  it('refuses an image that runs as root', async () => {
    const c = await candidate({ user: '0' });
    await refused(c.reference, config(c.report), 'POLICY_VIOLATION', /non-root: required a non-root user.*; actual USER 0 \(UID 0 is root\)/);
    const d = await candidate({ user: '' });
    await refused(d.reference, config(d.report), 'POLICY_VIOLATION', /actual no USER set \(runs as root\)/);
  });

  it('refuses an image over the size limit', async () => {
    const c = await candidate({ layerBytes: 256 * 1024 });
    await refused(c.reference, config(c.report, { policy: { maxCompressedBytes: 100 * 1024 } }), 'POLICY_VIOLATION', /size: required ≤ 100\.0 KiB compressed; actual 256\.\d KiB/);
  });

  it('refuses an image with HIGH/CRITICAL vulnerabilities', async () => {
    const c = await candidate({ vulns: [{ id: 'CVE-2024-0001', pkg: 'openssl', severity: 'CRITICAL', fixed: '3.0.14' }, { id: 'CVE-2024-0002', pkg: 'zlib', severity: 'LOW' }] });
    await refused(c.reference, config(c.report), 'SCAN_BLOCKED', /CVE-2024-0001.*openssl/);
  });

  it('refuses when the exception covering a vulnerability has expired', async () => {
    const c = await candidate({ vulns: [{ id: 'CVE-2024-0003', pkg: 'libxml2', severity: 'HIGH', fixed: '2.9.14' }] });
    const cfg = config(c.report, { scan: { exceptions: [{ id: 'CVE-2024-0003', reason: 'not reachable', expires: '2020-01-01' }] } });
    await refused(c.reference, cfg, 'SCAN_BLOCKED', /CVE-2024-0003.*2020-01-01/);
  });

  it('refuses a scan report that is not about the promoted digest', async () => {
    const a = await candidate();
    const b = await candidate();
    await refused(a.reference, config(undefined, { scanSource: { kind: 'unverified-report', file: b.report } }), 'SCAN_BLOCKED', /not for|is for/);
  });
});

/** Case 1 of issue 8: the scan gate trusts only a vulnerability attestation signed by the platform scanner. */
describe('verify-and-promote: the scan result must be the scanner-signed vulnerability attestation', () => {
  it('refuses an image that has only a forged, unsigned report ("Results": null): there is nothing the gate will read it from', async () => {
    const c = await candidate({ scan: 'none' });
    // the one-line report of the attack, bound to the right digest: the default configuration has no place to take it from
    await writeFile(c.report, JSON.stringify({ SchemaVersion: 2, ArtifactName: c.reference, ArtifactType: 'container_image', Metadata: { RepoDigests: [`${c.repository}@${c.digest}`] }, Results: null }));
    const e = await refused(c.reference, config(), 'SCAN_BLOCKED', /no trusted scan result for .*@sha256:[0-9a-f]{64}: no vulnerability attestation \(https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1\) verifies with the scanner scanner/);
    expect(e.format()).toMatch(/cosign attest --type vuln/);
    const events = await records.listEvents({ digest: c.digest, limit: 5 });
    expect(events[0]).toMatchObject({ outcome: 'refused', checkName: 'scan' });
  });

  it("refuses a vulnerability attestation signed by the submitter's own image-signing key", async () => {
    const c = await candidate({ scan: 'dev', vulns: [] });
    await refused(c.reference, config(), 'SCAN_BLOCKED', /no vulnerability attestation .* verifies with the scanner scanner: .*(no matching attestations|signature|verif)/i);
  });

  it("refuses the scanner's attestation of another digest put on this image's .att tag", async () => {
    const clean = await candidate();
    const target = await candidate({ scan: 'none', vulns: [{ id: 'CVE-2024-0666', pkg: 'openssl', severity: 'CRITICAL', fixed: '3.0.15' }] });
    await copy(`${clean.repository}:${signatureTag(clean.digest, 'att')}`, `${target.repository}:${signatureTag(target.digest, 'att')}`);
    await refused(target.reference, config(), 'SCAN_BLOCKED', new RegExp(`no trusted scan result for .*${target.digest}: (no vulnerability attestation .* verifies with the scanner scanner: no matching attestations: no matching subject digest found|the 1 vulnerability attestation\\(s\\) signed by the scanner scanner are about another image)`));
  });

  it('promotes with a clean attestation and says where the scan result came from', async () => {
    const c = await candidate({ vulns: [{ id: 'CVE-2024-0100', pkg: 'zlib', severity: 'LOW' }] });
    const result = await promote(c.reference, config(), records);
    expect(result.steps.find((s) => s.step === 'scan')!.summary).toMatch(/passed/i);
    const rows = await db.query<{ scan_summary: { report: string; counts: { LOW: number } } }>('SELECT scan_summary FROM promotions WHERE digest = $1', [c.digest]);
    expect(rows.rows[0]!.scan_summary.report).toMatch(/^vulnerability attestation by scanner \(scan finished \d{4}-/);
    expect(rows.rows[0]!.scan_summary.counts.LOW).toBe(1);
  });

  it('refuses a signed attestation whose report has a CRITICAL vulnerability', async () => {
    const c = await candidate({ vulns: [{ id: 'CVE-2024-0777', pkg: 'glibc', severity: 'CRITICAL', fixed: '2.36-9' }] });
    await refused(c.reference, config(), 'SCAN_BLOCKED', /1 CRITICAL vulnerabilit.*CVE-2024-0777/);
  });

  it('reads the newest of several attestations: a later scan that found a CRITICAL wins over an earlier clean one', async () => {
    const c = await candidate({ vulns: [] });
    const later = trivyReport(c.repository, c.digest, '1000', [{ id: 'CVE-2024-0888', pkg: 'curl', severity: 'CRITICAL', fixed: '8.0.1' }]);
    await attestScan(`${c.repository}@${c.digest}`, later, scannerKey.privateKey, { finishedOn: new Date(Date.now() + 60_000) });
    await refused(c.reference, config(), 'SCAN_BLOCKED', /CVE-2024-0888/);
  });

  it('refuses an attestation of the bare Trivy report, which cosign attests with an empty scanner.result', async () => {
    const c = await candidate({ scan: 'none' });
    await attestImage(`${c.repository}@${c.digest}`, c.report, 'vuln', { key: scannerKey.privateKey, transparencyLog: false });
    await refused(c.reference, config(), 'SCAN_BLOCKED', /carries no scan result \(predicate\.scanner\.result is null\)/);
  });

  it('reads an unverified report file only when asked for by name, and marks the record UNVERIFIED', async () => {
    const c = await candidate({ scan: 'none' });
    const result = await promote(c.reference, config(undefined, { scanSource: { kind: 'unverified-report', file: c.report } }), records);
    const rows = await db.query<{ scan_summary: { report: string } }>('SELECT scan_summary FROM promotions WHERE digest = $1', [c.digest]);
    expect(rows.rows[0]!.scan_summary.report).toBe(`UNVERIFIED report file ${c.report}`);
    expect(result.created).toBe(true);
  });
});

describe('verify-and-promote: a registry that fails mid-copy', () => {
  it('leaves no manifest in the trusted registry, and the rerun completes', async () => {
    const c = await candidate({ layerBytes: 64 * 1024 });
    // every blob upload to the trusted registry fails while the proxy is broken
    const proxy = await startFaultProxy(trusted.url, (req) => req.method !== 'GET' && req.method !== 'HEAD' && /\/blobs\/uploads\//.test(req.url ?? ''));
    try {
      const cfg = config(c.report, { trusted: `${proxy.host}/forge` });
      const e = await promote(c.reference, cfg, records).then(
        () => undefined,
        (err: unknown) => err as ForgeError,
      );
      show(e?.format() ?? 'no error');
      expect(e?.code).toBe('COPY_FAILED');
      expect(e?.message).toMatch(/injected fault\. No manifest without its blobs was written .* run the promotion again/);
      expect(proxy.failures).toBeGreaterThan(0);
      expect(await exists(`${c.trustedRepository}@${c.digest}`)).toBe(false);
      expect(await records.isAllowed(`${c.trustedRepository}@${c.digest}`)).toBe(false);
      proxy.broken = false;
      const result = await promote(c.reference, cfg, records);
      show(`rerun: promoted ${result.trustedReference}, record ${result.recordId}`);
      expect(result.created).toBe(true);
      expect(await exists(`${c.trustedRepository}@${c.digest}`)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });
});

describe('forge promote (the CLI)', () => {
  const cli = (args: string[]) =>
    execa(join(process.cwd(), 'bin/forge.mjs'), ['promote', ...args], { reject: false, env: { FORGE_STATE_DIR: join(work, 'cli-state'), COSIGN_PASSWORD: '' } });
  const flags = (_c: { report: string }) => [
    '--incoming', incoming.host, '--trusted', `${trusted.host}/forge`, '--key', devKey.publicKey, '--transparency-log', 'false',
    '--scanner-key', scannerKey.publicKey, '--promotion-key', promotionKey.privateKey, '--promotion-pub', promotionKey.publicKey,
  ];

  it('prints each step, then the result; --json for machines; exit 1 with the reason on a refusal', async () => {
    const c = await candidate();
    const text = await cli([c.reference, ...flags(c)]);
    expect(text.exitCode, text.stderr).toBe(0);
    for (const step of ['resolve', 'verify', 'scan', 'policy', 'promote', 'attest', 'record']) expect(text.stdout).toMatch(new RegExp(`✓ ${step}\\s`));
    expect(text.stdout).toContain(`promoted ${c.trustedRepository}@${c.digest}`);
    const json = await cli([c.reference, ...flags(c), '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ digest: c.digest, created: false });

    const root = await candidate({ user: 'root' });
    const refusedRun = await cli([root.reference, ...flags(root)]);
    expect(refusedRun.exitCode).toBe(1);
    expect(refusedRun.stdout).toMatch(/✗ policy/);
    expect(refusedRun.stderr).toMatch(/POLICY_VIOLATION: .*\n\s+non-root: required a non-root user.*; actual USER root \(no \/etc\/passwd in the image\)/);
  });
});

describe('forge promote --unverified-scan-report (laptop only)', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    execa(join(process.cwd(), 'bin/forge.mjs'), ['promote', ...args], { reject: false, env: { FORGE_STATE_DIR: join(work, 'cli-state-unverified'), COSIGN_PASSWORD: '', ...env } });
  const flags = () => ['--incoming', incoming.host, '--trusted', `${trusted.host}/forge`, '--key', devKey.publicKey, '--transparency-log', 'false', '--promotion-key', promotionKey.privateKey, '--promotion-pub', promotionKey.publicKey];

  it('warns loudly every time it reads one, and is refused inside Argo', async () => {
    const c = await candidate({ scan: 'none' });
    const run = await cli([c.reference, ...flags(), '--unverified-scan-report', c.report]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain('!!! WARNING: UNVERIFIED SCAN REPORT: the scan gate is reading a report file that no scanner signed');
    expect(run.stdout).toMatch(/✓ scan/);
    const inArgo = await cli([c.reference, ...flags(), '--unverified-scan-report', c.report], { ARGO_NODE_ID: 'n-1' });
    expect(inArgo.exitCode).toBe(2);
    expect(inArgo.stderr).toContain('INVALID_ARGS: --unverified-scan-report is refused inside Argo');
    const both = await cli([c.reference, ...flags(), '--unverified-scan-report', c.report, '--scanner-key', scannerKey.publicKey]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toContain('give exactly one scan source');
  });
});

describe('verify-and-promote: only the incoming registry', () => {
  it('refuses an image from elsewhere before any gate runs, and says so in the audit trail', async () => {
    const c = await candidate();
    const steps: string[] = [];
    const e = await promote(c.reference, { ...config(c.report), incoming: `${incoming.host}/other-team` }, records, (s) => steps.push(`${s.step}:${s.ok}`)).catch((err: unknown) => err as ForgeError);
    expect(e).toBeInstanceOf(ForgeError);
    show((e as ForgeError).format());
    expect((e as ForgeError).message).toMatch(/is not in the incoming registry .*other-team/);
    expect(steps).toEqual(['resolve:false']);
    // The boundary is checked before any registry call, so the refusal names the source, not a digest.
    const events = (await records.listEvents({ limit: 50 })).filter((ev) => ev.sourceReference === c.reference);
    expect(events[0]).toMatchObject({ outcome: 'refused', checkName: 'resolve', digest: null });
  });
});
