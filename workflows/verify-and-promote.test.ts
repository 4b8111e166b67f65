import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTemplate } from '../cdk8s/constructs/workflow-template.ts';
import { parsePlatformConfig, type PlatformConfig } from '../cdk8s/platform-config.ts';
import { generateKeyPair, signImage } from '../steps/lib/cosign.ts';
import { exists } from '../steps/lib/crane.ts';
import { buildImage } from '../test/helpers/images.ts';
import { runLocally } from '../test/helpers/local-argo.ts';
import { openDatabase } from '../steps/lib/records/db.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { startRegistry, type Registry } from '../test/helpers/registry.ts';
import { attestScan, trivyReport } from '../test/helpers/trivy.ts';
import { SETTINGS_CONFIGMAP, verifyAndPromoteTemplate } from './verify-and-promote.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const pgClient = pg.Client;
const example = parse(await readFile(join(root, 'cdk8s/platform.example.yaml'), 'utf8')) as Record<string, unknown>;

describe('forge-verify-and-promote template', () => {
  it('offers the configured names as dropdowns and is complete for the UI', () => {
    const t = verifyAndPromoteTemplate(parsePlatformConfig(example))!;
    expect(() => checkTemplate(t)).not.toThrow();
    const args = Object.fromEntries(t.spec.arguments!.parameters!.map((p) => [p.name, p]));
    expect(args.image!.value).toBeUndefined(); // required
    expect(args['scan-policy']).toMatchObject({ value: 'default', enum: ['default', 'relaxed'] });
    expect(args['promotion-policy']).toMatchObject({ value: 'default', enum: ['default', 'small'] });
    // the scan result is never a submitter's input: no report URL or file parameter anywhere
    expect(Object.keys(args).sort()).toEqual(['image', 'promotion-policy', 'scan-policy', 'verification-key']);
    const scan = t.spec.templates!.find((x) => x.name === 'scan')!;
    expect(scan.inputs!.parameters!.map((p) => p.name)).toEqual(['image', 'scan-policy']);
    expect(JSON.stringify(t)).not.toMatch(/scan-report|unverified/i);
    const copy = t.spec.templates!.find((x) => x.name === 'main')!.dag!.tasks!.find((x) => x.name === 'copy')!;
    expect(copy.depends).toBe('verify && scan && policy');
  });

  it('gives every registry-facing step the registry credentials through DOCKER_CONFIG', () => {
    const t = verifyAndPromoteTemplate(parsePlatformConfig(example))!;
    for (const name of ['resolve', 'verify', 'scan', 'copy', 'attest']) {
      const step = t.spec.templates!.find((x) => x.name === name)!;
      expect(step.container!.env).toContainEqual({ name: 'DOCKER_CONFIG', value: '/etc/forge/registry-auth' });
      expect(step.volumes).toContainEqual({
        name: 'registry-auth',
        secret: { secretName: 'forge-registry-credentials', defaultMode: 0o440, items: [{ key: '.dockerconfigjson', path: 'config.json' }] },
      });
    }
    const record = t.spec.templates!.find((x) => x.name === 'record')!;
    expect(record.container!.env!.map((e) => e.name)).not.toContain('DOCKER_CONFIG');
  });

  it('runs copy and attest alone per image, attest as its own account', () => {
    // Two promotions of one image at once must take turns at attest (the cluster test shows two
    // attestations without this), and copy under the same lock so it never writes incoming .sig/.att
    // tags over an attestation signed meanwhile; the lock is per source digest, so other images do not wait.
    const config = parsePlatformConfig(example);
    const templates = verifyAndPromoteTemplate(config)!.spec.templates!;
    const attest = templates.find((t) => t.name === 'attest')!;
    const copy = templates.find((t) => t.name === 'copy')!;
    expect(attest.synchronization).toEqual({ mutexes: [{ name: 'forge-promote-{{inputs.parameters.source}}' }] });
    expect(copy.synchronization).toEqual({ mutexes: [{ name: 'forge-promote-{{inputs.parameters.image}}' }] });
    const dag = templates.flatMap((t) => t.dag?.tasks ?? []);
    // Both names expand to the same string: copy's image and attest's source are resolve's reference.
    expect(dag.find((t) => t.name === 'copy')!.arguments!.parameters!.find((p) => p.name === 'image')!.value).toBe(
      dag.find((t) => t.name === 'attest')!.arguments!.parameters!.find((p) => p.name === 'source')!.value,
    );
    expect(attest.inputs!.parameters!.find((p) => p.name === 'image')!.description).toMatch(/by digest/);
    expect(attest.serviceAccountName).toBe('forge-promotion-signer');
    // verify alone reads verification keys; every other step runs as the workflow account.
    expect(templates.find((t) => t.name === 'verify')!.serviceAccountName).toBe('forge-signature-verifier');
    expect(templates.filter((t) => t.serviceAccountName).map((t) => t.name).sort()).toEqual(['attest', 'verify']);
  });

  it('is not generated without a promotion section', () => {
    const { promotion: _, ...rest } = example;
    expect(verifyAndPromoteTemplate(parsePlatformConfig(rest))).toBeUndefined();
  });
});

/**
 * The template's own wiring run with the real step tools as local processes, against two real
 * registries and a real PostgreSQL: what each node passes to the next is what Argo would pass.
 */
describe('forge-verify-and-promote wiring, step tools run locally', () => {
  let incoming: Registry;
  let trusted: Registry;
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let work: string;
  let scannerKey: { privateKey: string; publicKey: string };
  let config: PlatformConfig;
  let devKey: { privateKey: string; publicKey: string };
  let mounts: Record<string, string>;
  let secrets: Record<string, string>;

  beforeAll(async () => {
    [incoming, trusted, pg] = await Promise.all([startRegistry(), startRegistry(), startPostgres()]);
    // The platform team's one-off `forge records migrate`; the steps only check the schema.
    await (await openDatabase({ url: pg.url, schema: 'migrate' })).close();
    work = await mkdtemp(join(tmpdir(), 'forge-vap-'));
    devKey = await generateKeyPair(await mkdtemp(join(work, 'dev-')));
    scannerKey = await generateKeyPair(await mkdtemp(join(work, 'scanner-')));
    const promotionDir = await mkdtemp(join(work, 'promotion-'));
    const promotionKey = await generateKeyPair(promotionDir);
    await writeFile(join(promotionDir, 'cosign.password'), '');
    const pub = (f: string) => readFile(f, 'utf8');
    config = parsePlatformConfig({
      ...example,
      registries: { incoming: incoming.host, trusted: `${trusted.host}/forge`, tracking: `${trusted.host}/tracking`, release: `${trusted.host}/release` },
      promotion: {
        transparencyLog: false,
        verificationKeys: { developers: { publicKey: await pub(devKey.publicKey) } },
        scanPolicies: { default: { threshold: 'HIGH' } },
        promotionPolicies: { default: { maxSize: '10MiB' } },
        attestationPublicKey: { publicKey: await pub(promotionKey.publicKey) },
        attestationSigningKey: { secret: { name: 'forge-promotion-key' } },
        database: { secret: { name: 'forge-records-db', key: 'url' } },
        scanner: { publicKey: await pub(scannerKey.publicKey) },
      },
      // admission must accept what promotion verifies and signs (checked by parsePlatformConfig)
      admission: {
        ...(example.admission as object),
        signingKey: { publicKey: await pub(devKey.publicKey) },
        attestationKey: { publicKey: await pub(promotionKey.publicKey) },
        scannerKey: { publicKey: await pub(scannerKey.publicKey) },
      },
    });
    // what the ConfigMap and the Secret mounts would hold
    const settingsDir = join(work, 'settings');
    await mkdir(settingsDir);
    const { PromotionChart } = await import('../cdk8s/charts/promotion.ts');
    const { Testing } = await import('cdk8s');
    const chart = new PromotionChart(Testing.app(), 'p', config);
    const cm = chart.toJson().find((o: { metadata: { name: string } }) => o.metadata.name === SETTINGS_CONFIGMAP) as { data: Record<string, string> };
    await writeFile(join(settingsDir, 'settings.json'), cm.data['settings.json']!);
    mounts = { '/etc/forge/promotion-key': promotionDir, '/etc/forge/promotion': settingsDir };
    secrets = { 'forge-promotion-key/cosign.password': '', 'forge-records-db/url': pg.url };
  }, 120_000);

  afterAll(async () => {
    await Promise.all([incoming?.stop(), trusted?.stop(), pg?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function candidate(name: string, user: string, attest = true) {
    const repository = `${incoming.host}/team/${name}`;
    const digest = await buildImage(`${repository}:1.0.0`, { user });
    await signImage(`${repository}@${digest}`, { key: devKey.privateKey, transparencyLog: false });
    // the platform scanner's signed result, attached to the digest: the only scan input the template reads
    if (attest) await attestScan(`${repository}@${digest}`, trivyReport(repository, digest, user), scannerKey.privateKey);
    return { image: `${repository}:1.0.0`, digest };
  }

  it('promotes, attests and records through the template, every output wired', async () => {
    const c = await candidate('web', '1000');
    const nodes = await runLocally(verifyAndPromoteTemplate(config)!, { image: c.image }, { mounts, secrets });
    for (const [name, node] of Object.entries(nodes).filter(([n]) => n !== 'audit')) expect(node.phase, `${name}: ${node.message}\n${node.stderr}`).toBe('Succeeded');
    const trustedRef = `${trusted.host}/forge/team/web@${c.digest}`;
    expect(nodes.copy!.outputs['trusted-reference']).toBe(trustedRef);
    expect(await exists(trustedRef)).toBe(true);
    expect(nodes.attest!.outputs['attestation-digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(nodes.record!.outputs['record-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(nodes.record!.outputs.created).toBe('true');
    expect(nodes.audit!.phase).toBe('Omitted'); // the exit handler only audits runs that did not succeed
    expect(nodes.verify!.outputs.signer).toMatch(/^developers \(sha256:[0-9a-f]{64}\)$/);
    expect(JSON.parse(nodes.scan!.outputs['scan-summary']!)).toMatchObject({ passed: true, report: expect.stringMatching(/^vulnerability attestation by scanner \(sha256:[0-9a-f]{64}\) \(scan finished \d{4}-/) });
  });

  it('refuses an image without a vulnerability attestation by the scanner: the template takes no report from the submitter', async () => {
    const c = await candidate('unscanned', '1000', false);
    // a submitter passing the old report parameter gets no say: the template has no such argument
    const nodes = await runLocally(verifyAndPromoteTemplate(config)!, { image: c.image }, { mounts, secrets });
    expect(nodes.scan!.phase).toBe('Failed');
    expect(nodes.scan!.message).toMatch(/SCAN_BLOCKED: no trusted scan result for .*@sha256:[0-9a-f]{64}: no vulnerability attestation \(https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1\) verifies with the scanner scanner \(sha256:/);
    expect([nodes.copy!.phase, nodes.attest!.phase, nodes.record!.phase]).toEqual(['Omitted', 'Omitted', 'Omitted']);
    expect(await exists(`${trusted.host}/forge/team/unscanned@${c.digest}`)).toBe(false);
  });

  it('stops at a refused gate: the node says why, nothing after it runs', async () => {
    const c = await candidate('rooted', '0');
    const nodes = await runLocally(verifyAndPromoteTemplate(config)!, { image: c.image }, { mounts, secrets });
    expect(nodes.policy!.phase).toBe('Failed');
    expect(nodes.policy!.message).toMatch(/POLICY_VIOLATION: .* non-root\n.*required a non-root user.*; actual USER 0 \(UID 0 is root\)/);
    expect(nodes.verify!.phase).toBe('Succeeded');
    expect([nodes.copy!.phase, nodes.attest!.phase, nodes.record!.phase]).toEqual(['Omitted', 'Omitted', 'Omitted']);
    expect(await exists(`${trusted.host}/forge/team/rooted@${c.digest}`)).toBe(false);
    // the exit handler appended the refusal to the audit trail in PostgreSQL
    expect(nodes.audit!.phase, nodes.audit!.stderr).toBe('Succeeded');
    const db = new pgClient({ connectionString: pg.url });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT outcome, check_name, message, workflow_name FROM promotion_events WHERE id = $1', [nodes.audit!.outputs['event-id']]);
      expect(rows[0]).toMatchObject({ outcome: 'refused', check_name: 'policy', workflow_name: 'local-run' });
      expect(rows[0].message).toMatch(/^POLICY_VIOLATION: .*non-root/);
    } finally {
      await db.end();
    }
  });
});
