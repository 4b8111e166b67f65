/**
 * The generated admission policies evaluated by the real Kyverno CLI (`kyverno apply --registry`),
 * against Pods whose images live in two real loopback registries: an image promoted by the real
 * verify-and-promote chain (signed by the developer key, scanned and attested by the scanner,
 * promotion-attested), the same image still in the incoming registry, an unsigned image pushed
 * straight into the trusted registry, a signed and promotion-attested image without the scanner's
 * vulnerability attestation, and a tag-only reference. Both generated forms are evaluated:
 * ClusterPolicy (kyverno.io/v1) with every check on, and ValidatingPolicy + ImageValidatingPolicy
 * (policies.kyverno.io/v1) on registry, digest and signature. Kyverno 1.19.1 cannot verify an
 * attestation in the ImageValidatingPolicy form without a transparency log (kyverno#17109): the
 * last test holds that finding.
 *
 * Plain-HTTP registries: Kyverno's registry client (go-containerregistry) speaks HTTP to 127.0.0.1
 * on its own (name.Registry.Scheme treats loopback as insecure), so no TLS is needed here.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionObjects } from '../../cdk8s/charts/admission.ts';
import { parsePlatformConfig, type PlatformConfig } from '../../cdk8s/platform-config.ts';
import { attestPromotion } from '../../steps/attest/attest.ts';
import { promoteDigest } from '../../steps/copy/copy.ts';
import { generateKeyPair, signImage } from '../../steps/lib/cosign.ts';
import { openDatabase, type Database } from '../../steps/lib/records/db.ts';
import { PromotionRecords } from '../../steps/lib/records/records.ts';
import { toolPath } from '../../steps/lib/tools.ts';
import { promote } from '../../steps/promote/promote.ts';
import { buildImage } from '../helpers/images.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { attestScan, trivyReport } from '../helpers/trivy.ts';

type Keys = { privateKey: string; publicKey: string };
let incoming: Registry;
let trusted: Registry;
let work: string;
let db: Database;
let dev: Keys;
let promotion: Keys;
let scanner: Keys;
const images: Record<'promoted' | 'unpromoted' | 'unsigned' | 'unscanned' | 'tagOnly', string> = { promoted: '', unpromoted: '', unsigned: '', unscanned: '', tagOnly: '' };
const NAMESPACE = 'project-demo';

beforeAll(async () => {
  toolPath('kyverno'); // a missing CLI fails here, naming `npm run tools:install`
  [incoming, trusted] = await Promise.all([startRegistry(), startRegistry()]);
  work = await mkdtemp(join(tmpdir(), 'forge-kyverno-'));
  [dev, promotion, scanner] = (await Promise.all(['dev', 'promotion', 'scanner'].map(async (n) => generateKeyPair(await mkdtemp(join(work, `${n}-`)))))) as [Keys, Keys, Keys];
  db = await openDatabase({ dataDir: join(work, 'records') });

  // promoted: through the real chain, scan result from the scanner's attestation
  const repo = `${incoming.host}/team/api`;
  const digest = await buildImage(`${repo}:1.0.0`, { user: '1000' });
  await signImage(`${repo}@${digest}`, { key: dev.privateKey, transparencyLog: false });
  await attestScan(`${repo}@${digest}`, trivyReport(repo, digest, '1000'), scanner.privateKey);
  const result = await promote(
    `${repo}:1.0.0`,
    {
      incoming: incoming.host,
      trusted: `${trusted.host}/forge`,
      verify: { key: dev.publicKey, transparencyLog: false },
      scanSource: { kind: 'attestation', scanner: { key: scanner.publicKey, transparencyLog: false, label: 'scanner' } },
      scan: {},
      policy: { maxCompressedBytes: 10 * 1024 ** 2 },
      attest: { key: promotion.privateKey, verifyKey: promotion.publicKey },
      workflow: { name: 'kyverno-test', uid: '' },
    },
    new PromotionRecords(db),
  );
  images.promoted = result.trustedReference;
  images.unpromoted = `${repo}@${digest}`;
  images.tagOnly = `${trusted.host}/forge/team/api:1.0.0`;

  // unsigned: pushed straight into the trusted registry (what admission exists to stop)
  const rogue = `${trusted.host}/forge/team/rogue`;
  images.unsigned = `${rogue}@${await buildImage(`${rogue}:1.0.0`, { user: '1000' })}`;

  // signed and promotion-attested, but never scanned by the scanner
  const side = `${incoming.host}/team/side`;
  const sideDigest = await buildImage(`${side}:1.0.0`, { user: '1000' });
  await signImage(`${side}@${sideDigest}`, { key: dev.privateKey, transparencyLog: false });
  const copied = await promoteDigest(side, sideDigest, `${trusted.host}/forge/team/side`);
  await attestPromotion(
    copied.reference,
    { source: `${side}@${sideDigest}`, digest: sideDigest, trusted: copied.reference, signer: 'dev', scan: {}, policy: [], workflow: { name: 'w', uid: '' }, promotedAt: new Date().toISOString() },
    { key: promotion.privateKey, transparencyLog: false },
    { key: promotion.publicKey, transparencyLog: false },
  );
  images.unscanned = copied.reference;
}, 300_000);

afterAll(async () => {
  await db?.close();
  await Promise.all([incoming?.stop(), trusted?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function platform(kind: 'ImageValidatingPolicy' | 'ClusterPolicy', attestations: boolean): Promise<PlatformConfig> {
  const pem = (k: Keys) => readFile(k.publicKey, 'utf8');
  return parsePlatformConfig({
    namespace: 'forge',
    images: { steps: { repository: 'registry.example.com/forge/steps', tag: '0.1.0' } },
    registries: { incoming: incoming.host, trusted: `${trusted.host}/forge`, tracking: `${trusted.host}/tracking`, release: `${trusted.host}/release` },
    admission: {
      kind,
      namespaces: ['project-*'],
      signingKey: { publicKey: await pem(dev) },
      attestationKey: { publicKey: await pem(promotion) },
      requirePromotionAttestation: attestations,
      requireVulnerabilityAttestation: attestations,
      scannerKey: { publicKey: await pem(scanner) },
    },
  });
}

const pod = (name: string, image: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NAMESPACE },
  spec: { containers: [{ name: 'app', image }] },
});

interface Verdict {
  policy: string;
  rule?: string;
  result: string;
  message?: string;
}

/** `kyverno apply` of the generated policies to one Pod; the policy report results for it. */
async function apply(config: PlatformConfig, name: keyof typeof images): Promise<Verdict[]> {
  const dir = await mkdtemp(join(work, `apply-${name}-`));
  await writeFile(join(dir, 'policies.yaml'), admissionObjects(config).map((o) => stringify(o)).join('---\n'));
  await writeFile(join(dir, 'pod.yaml'), stringify(pod(name.toLowerCase(), images[name])));
  const r = await execa(toolPath('kyverno'), ['apply', join(dir, 'policies.yaml'), '--resource', join(dir, 'pod.yaml'), '--registry', '--policy-report', '--output-format', 'json', '--remove-color'], {
    reject: false,
    env: { HOME: dir, DOCKER_CONFIG: dir, KUBECONFIG: join(dir, 'no-kubeconfig') },
    timeout: 120_000,
  });
  const json = r.stdout.slice(r.stdout.indexOf('{'));
  let report: { results?: Array<Verdict & { resources?: unknown }> };
  try {
    report = JSON.parse(json) as typeof report;
  } catch {
    throw new Error(`kyverno apply printed no policy report (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }
  return (report.results ?? []).map(({ policy, rule, result, message }) => ({ policy, rule, result, message }));
}

const failed = (v: Verdict[]) => v.filter((x) => x.result === 'fail' || x.result === 'error');
const passed = (v: Verdict[]) => v.filter((x) => x.result === 'pass');
/** `FORGE_PRINT_VERDICTS=1` prints what Kyverno said for each Pod. */
const show = (what: string, v: Verdict[]) => {
  if (process.env.FORGE_PRINT_VERDICTS) console.log(`${what}\n${v.map((x) => `  ${x.result.padEnd(5)} ${x.policy}${x.rule && x.rule !== x.policy ? `/${x.rule}` : ''}: ${x.message ?? ''}`).join('\n')}`);
};
const messages = (v: Verdict[]) => failed(v).map((x) => `${x.rule ?? x.policy}: ${x.message}`).join('\n');

describe('kyverno apply of the generated ClusterPolicy form (signature, promotion and vulnerability attestations)', () => {
  let config: PlatformConfig;
  beforeAll(async () => {
    config = await platform('ClusterPolicy', true);
  });

  it('admits the promoted image: trusted registry, digest, signature, promotion and vulnerability attestations', async () => {
    const v = await apply(config, 'promoted');
    show('ClusterPolicy, promoted', v);
    expect(failed(v), JSON.stringify(v, null, 2)).toEqual([]);
    expect([...new Set(passed(v).map((x) => x.rule))].sort()).toEqual(['trusted-registry-and-digest', 'verify-promotion-attestation', 'verify-signature', 'verify-vulnerability-attestation']);
  });

  it('refuses the unpromoted image from the incoming registry', async () => {
    const v = await apply(config, 'unpromoted');
    show('ClusterPolicy, unpromoted', v);
    expect(messages(v)).toMatch(/^trusted-registry-and-digest: .*Images must come from the trusted registry/m);
  });

  it('refuses an unsigned image pushed into the trusted registry', async () => {
    const v = await apply(config, 'unsigned');
    show('ClusterPolicy, unsigned', v);
    expect(messages(v)).toMatch(/^verify-signature: .*(no signatures found|no matching signatures)/m);
  });

  it('refuses a signed, promotion-attested image without the scanner’s vulnerability attestation', async () => {
    const v = await apply(config, 'unscanned');
    show('ClusterPolicy, unscanned', v);
    // (Kyverno reports a verifyImages rule once per pass it runs: the set of rules is what counts)
    expect([...new Set(failed(v).map((x) => x.rule))]).toEqual(['verify-vulnerability-attestation']);
    expect(messages(v)).toMatch(/^verify-vulnerability-attestation: image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: no matching attestations/m);
  });

  it('refuses a tag-only reference', async () => {
    const v = await apply(config, 'tagOnly');
    show('ClusterPolicy, tag-only', v);
    expect(messages(v)).toMatch(/^trusted-registry-and-digest: .*pinned by digest/m);
  });
});

describe('kyverno apply of the generated ImageValidatingPolicy form', () => {
  let signaturesOnly: PlatformConfig;
  let full: PlatformConfig;
  beforeAll(async () => {
    signaturesOnly = await platform('ImageValidatingPolicy', false);
    full = await platform('ImageValidatingPolicy', true);
  });

  it('admits the promoted image on trusted registry, digest and signature', async () => {
    const v = await apply(signaturesOnly, 'promoted');
    show('ImageValidatingPolicy (signatures only), promoted', v);
    expect(failed(v), JSON.stringify(v, null, 2)).toEqual([]);
    expect([...new Set(passed(v).map((x) => x.policy))].sort()).toEqual(['forge-image-signatures', 'forge-trusted-registry']);
  });

  it('refuses the unpromoted image from the incoming registry', async () => {
    const v = await apply(signaturesOnly, 'unpromoted');
    show('ImageValidatingPolicy, unpromoted', v);
    expect(messages(v)).toMatch(new RegExp(`^forge-trusted-registry: images not from the trusted registry ${trusted.host}/forge/: ${incoming.host}/team/api@sha256:[0-9a-f]{64}$`, 'm'));
  });

  it('refuses an unsigned image pushed into the trusted registry', async () => {
    const v = await apply(signaturesOnly, 'unsigned');
    show('ImageValidatingPolicy, unsigned', v);
    expect(messages(v)).toMatch(/^forge-image-signatures: every image from .* must carry a cosign signature by the platform signing key$/m);
  });

  it('refuses a tag-only reference', async () => {
    const v = await apply(signaturesOnly, 'tagOnly');
    show('ImageValidatingPolicy, tag-only', v);
    expect(messages(v)).toMatch(/^forge-trusted-registry: images not pinned by digest \(@sha256:<64 hex>\): .*\/forge\/team\/api:1\.0\.0$/m);
  });

  // Kyverno 1.19.1 cannot verify any attestation with a key attestor and insecureIgnoreTlog
  // (pkg/image/verifiers/ivpol/cosign/verifier.go: VerifyAttestationSignature fails whenever cosign
  // reports no transparency-log bundle; kyverno/kyverno#17109, fix PR #17217 open). So with the
  // attestation checks on, this form refuses even the promoted image on this platform (no Rekor).
  // This test holds that finding: when a fixed Kyverno is pinned it fails, and the form's
  // attestation checks can be proven here like the ClusterPolicy form's.
  it('with the attestation checks on, Kyverno 1.19.1 refuses even the promoted image (kyverno#17109)', async () => {
    const v = await apply(full, 'promoted');
    show('ImageValidatingPolicy (attestations required), promoted', v);
    expect(messages(v)).toMatch(/^forge-image-signatures: every image from .* must carry the promotion attestation \(https:\/\/forge\.dev\/attestations\/promotion\/v1\) signed by the promotion key$/m);
  });
});
