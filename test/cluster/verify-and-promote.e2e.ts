/**
 * The synthesized forge-verify-and-promote WorkflowTemplate runs on the cluster's Argo controller
 * against two real registries (incoming, trusted) and a real PostgreSQL, all on the node address the pods reach (FORGE_E2E_GIT_LISTEN, 10.88.0.1 on
 * the local cluster; plain HTTP through `registries.insecure`). The scan result is the scanner's
 * vulnerability attestation on each image (cosign attest --type vuln). A signed, non-root image is
 * promoted, attested and recorded; a signed image running as root is refused by the `policy` node,
 * whose message is the tool's error (the container's termination message), nothing reaches the
 * trusted registry, and the exit handler appends the refusal to the audit trail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROMOTION_PREDICATE_TYPE } from '../../steps/attest/predicate.ts';
import { generateKeyPair, signImage, verifyAttestation } from '../../steps/lib/cosign.ts';
import { crane, digestOf, exists } from '../../steps/lib/crane.ts';
import { buildImage } from '../helpers/images.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { attestScan, trivyReport } from '../helpers/trivy.ts';
import { argo, e2eEnv, getWorkflow, kubectl, run, submittedName, synthesizeAndApply, type ArgoNode, type E2eEnv, type RunResult } from './e2e-env.ts';

const TEMPLATE = 'forge-verify-and-promote';
const KEY_PASSWORD = 'forge-e2e-promotion';

let env: E2eEnv;
let tmp: string;
let incoming: Registry | undefined;
let trusted: Registry | undefined;
let postgres: PostgresServer | undefined;
let databaseUrl: string;
const FORGE = path.resolve(import.meta.dirname, '../../bin/forge.mjs');
let devKey: { privateKey: string; publicKey: string };
let promotionKey: { privateKey: string; publicKey: string };
let scannerKey: { privateKey: string; publicKey: string };
const insecureBefore = process.env.FORGE_INSECURE_REGISTRIES;

/** Resolves within `ms` whatever `p` does (cleanup must not hang the run). */
function bounded(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  return Promise.race([Promise.resolve(p).then(() => undefined, () => undefined), new Promise<void>((r) => setTimeout(r, ms).unref())]);
}

beforeAll(async () => {
  env = e2eEnv();
  const host = env.gitListen;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-vap-'));

  // The services the step pods talk to, on the node address.
  [incoming, trusted, postgres] = await Promise.all([startRegistry({ host }), startRegistry({ host }), startPostgres({ host, trustFrom: [env.podNetwork] })]);
  // The platform team's one-off migration as the database owner; the steps get a runtime role
  // that may only INSERT and SELECT (docs/verify-and-promote.md, "The records").
  const ownerUrl = await postgres.createDatabase('forge_records');
  await postgres.query('CREATE ROLE forge_step LOGIN');
  await execa(FORGE, ['records', 'migrate', '--database-url', ownerUrl, '--runtime-role', 'forge_step']);
  databaseUrl = ownerUrl.replace(/^postgresql:\/\/[^@]+@/, 'postgresql://forge_step@');
  // This process pushes, signs and checks over plain HTTP too (the steps get the same list).
  process.env.FORGE_INSECURE_REGISTRIES = [incoming.host, trusted.host].join(',');

  // The developers' signing key, and the promotion key (encrypted: its password is a Secret key).
  devKey = await generateKeyPair(fs.mkdtempSync(path.join(tmp, 'dev-')));
  scannerKey = await generateKeyPair(fs.mkdtempSync(path.join(tmp, 'scanner-')));
  const promotionDir = fs.mkdtempSync(path.join(tmp, 'promotion-'));
  promotionKey = await generateKeyPair(promotionDir, KEY_PASSWORD);
  fs.writeFileSync(path.join(promotionDir, 'cosign.password'), KEY_PASSWORD);

  // Synthesize for this cluster: the registries above over plain HTTP, no registry credentials.
  const [incomingHost, trustedHost, namespace] = [incoming.host, trusted.host, env.namespace];
  await synthesizeAndApply(env, tmp, {
    template: TEMPLATE,
    charts: ['promotion'],
    adjust: (config) => {
      config.registries = {
        incoming: incomingHost,
        trusted: `${trustedHost}/forge`,
        tracking: `${trustedHost}/tracking`,
        release: `${trustedHost}/release`,
        insecure: [incomingHost, trustedHost],
      };
      config.promotion = {
        transparencyLog: false,
        // Kept in the cluster: a public-only Secret (read by the verify pod's own account), and one
        // as `cosign generate-key-pair k8s://…` fills it (private key beside the public key), refused.
        verificationKeys: { developers: { secret: `k8s://${namespace}/forge-developers-pub` }, leaky: { secret: `k8s://${namespace}/forge-developers-keypair` } },
        scanPolicies: { default: { threshold: 'HIGH' } },
        promotionPolicies: { default: { maxSize: '10MiB' } },
        attestationPublicKey: { publicKey: fs.readFileSync(promotionKey.publicKey, 'utf8') },
        attestationSigningKey: { secret: { name: 'forge-promotion-key' } },
        database: { secret: { name: 'forge-records-db', key: 'url' } },
        timeoutSeconds: 600,
        scanner: { publicKey: fs.readFileSync(scannerKey.publicKey, 'utf8') },
      };
    },
  });

  // The two Secrets the template names: the promotion key (file + password) and the database URL.
  const secret = async (args: string[]) =>
    kubectl(env, ['-n', env.namespace, 'apply', '-f', '-'], await kubectl(env, ['-n', env.namespace, 'create', 'secret', 'generic', ...args, '--dry-run=client', '-o', 'yaml']));
  await secret(['forge-promotion-key', `--from-file=cosign.key=${promotionKey.privateKey}`, `--from-file=cosign.password=${path.join(promotionDir, 'cosign.password')}`]);
  await secret(['forge-records-db', `--from-literal=url=${databaseUrl}`]);
  await secret(['forge-developers-pub', `--from-file=cosign.pub=${devKey.publicKey}`]);
  await secret(['forge-developers-keypair', `--from-file=cosign.pub=${devKey.publicKey}`, `--from-file=cosign.key=${devKey.privateKey}`]);
}, 300_000);

afterAll(async () => {
  await Promise.all([bounded(incoming?.stop(), 15_000), bounded(trusted?.stop(), 15_000), bounded(postgres?.stop(), 20_000)]);
  if (insecureBefore === undefined) delete process.env.FORGE_INSECURE_REGISTRIES;
  else process.env.FORGE_INSECURE_REGISTRIES = insecureBefore;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

/** A signed image in the incoming registry with the scanner's vulnerability attestation. */
async function candidate(name: string, user: string): Promise<{ image: string; repository: string; digest: string }> {
  const repository = `${incoming!.host}/team/${name}`;
  const digest = await buildImage(`${repository}:1.0.0`, { user });
  await signImage(`${repository}@${digest}`, { key: devKey.privateKey, transparencyLog: false });
  await attestScan(`${repository}@${digest}`, trivyReport(repository, digest, user), scannerKey.privateKey);
  return { image: `${repository}:1.0.0`, repository, digest };
}

interface Run {
  name: string;
  submit: RunResult;
  phase: string;
  message?: string;
  nodes: ArgoNode[];
  outputs: Record<string, string>;
  node(template: string): ArgoNode | undefined;
}

async function promote(image: string, verificationKey = 'developers'): Promise<Run> {
  const submit = await argo(env, ['submit', '--from', `workflowtemplate/${TEMPLATE}`, '--wait', '-o', 'name', '-p', `image=${image}`, '-p', `verification-key=${verificationKey}`], 480_000);
  const name = submittedName(submit);
  const wf = (await getWorkflow(env, name)) as Awaited<ReturnType<typeof getWorkflow>> & { status: { outputs?: { parameters?: { name: string; value?: string }[] } } };
  const nodes = Object.values(wf.status.nodes ?? {});
  const main = nodes.find((n) => n.type === 'DAG' && n.templateName === 'main');
  const params = wf.status.outputs?.parameters ?? main?.outputs?.parameters ?? [];
  return {
    name,
    submit,
    phase: wf.status.phase,
    message: wf.status.message,
    nodes,
    outputs: Object.fromEntries(params.map((p) => [p.name, p.value ?? ''])),
    node: (template) => nodes.find((n) => n.type === 'Pod' && n.templateName === template),
  };
}

async function describeRun(r: Run): Promise<string> {
  const logs = await argo(env, ['logs', r.name, '--no-color'], 60_000);
  const table = r.nodes.map((n) => `  ${n.templateName ?? n.id} ${n.type} ${n.phase}${n.message ? `: ${n.message}` : ''}`).join('\n');
  return `${r.name} ended ${r.phase}: ${r.message ?? ''}\n${table}\n${logs.stdout}\n${r.submit.stdout}${r.submit.stderr}`;
}

/** The pod of a Pod node (Argo's v2 pod names: <workflow>-<template>-<hash of the node id>). */
function podName(r: Run, node: ArgoNode): string {
  return `${r.name}-${node.templateName}-${node.id.slice(r.name.length + 1)}`;
}

async function query<T>(sql: string, values: unknown[]): Promise<T[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query(sql, values)).rows as T[];
  } finally {
    await db.end();
  }
}

describe('forge-verify-and-promote on a real cluster', () => {
  it('promotes a signed non-root image: copied by digest, attested, recorded', async () => {
    const c = await candidate('web', '1000');
    const r = await promote(c.image);
    if (r.phase !== 'Succeeded') throw new Error(await describeRun(r));
    expect(r.submit.code).toBe(0);

    for (const step of ['resolve', 'verify', 'scan', 'policy', 'copy', 'attest', 'record']) {
      expect(r.node(step)?.phase, `node ${step}`).toBe('Succeeded');
    }
    expect(r.node('audit')).toBeUndefined(); // the exit handler audits only runs that did not succeed

    // Only the attest pod, which holds the promotion key, runs as the signer account.
    const account = async (step: string) =>
      kubectl(env, ['-n', env.namespace, 'get', 'pod', podName(r, r.node(step)!), '-o', 'jsonpath={.spec.serviceAccountName}']);
    expect(await account('attest')).toBe('forge-promotion-signer');
    expect(await account('verify')).toBe('forge-signature-verifier');
    expect(await account('copy')).toBe('forge-workflow');
    // Only the verifier may read the key Secrets (the verify pod above read one through the API).
    const canGet = async (account: string, secretName: string) =>
      (await run(env.kubectlBin, ['--kubeconfig', env.kubeconfig, '-n', env.namespace, 'auth', 'can-i', 'get', `secret/${secretName}`, `--as=system:serviceaccount:${env.namespace}:${account}`])).stdout.trim();
    expect(await canGet('forge-signature-verifier', 'forge-developers-pub')).toBe('yes');
    for (const other of ['forge-workflow', 'forge-promotion-signer']) expect(await canGet(other, 'forge-developers-pub'), other).toBe('no');

    // The workflow's outputs.
    const trustedRef = `${trusted!.host}/forge/team/web@${c.digest}`;
    expect(r.outputs['trusted-reference']).toBe(trustedRef);
    expect(r.outputs['attestation-digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.outputs['record-id']).toMatch(/^[0-9a-f-]{36}$/);

    // The exact digest is in the trusted registry, with the promotion attestation by the promotion key.
    expect(await digestOf(trustedRef)).toBe(c.digest);
    const statements = (await verifyAttestation(trustedRef, PROMOTION_PREDICATE_TYPE, { key: promotionKey.publicKey, transparencyLog: false })) as {
      predicate: { workflow?: { name?: string } | string };
    }[];
    expect(statements.length).toBeGreaterThan(0);
    expect(JSON.stringify(statements[0]!.predicate)).toContain(r.name);

    // The allowlist row and its `promoted` event, written by the pod into PostgreSQL.
    const [row] = await query<Record<string, unknown>>('SELECT trusted_repository, digest, attestation_digest, workflow_name FROM promotions WHERE id = $1', [r.outputs['record-id']]);
    expect(row).toEqual({ trusted_repository: `${trusted!.host}/forge/team/web`, digest: c.digest, attestation_digest: r.outputs['attestation-digest'], workflow_name: r.name });
    const events = await query<{ outcome: string }>('SELECT outcome FROM promotion_events WHERE promotion_id = $1', [r.outputs['record-id']]);
    expect(events.map((e) => e.outcome)).toEqual(['promoted']);
  });

  it('promotes one image twice at once: one record, one attestation (the attest step holds a mutex per image)', async () => {
    const c = await candidate('twice', '1000');
    const runs = await Promise.all([promote(c.image), promote(c.image)]);
    for (const r of runs) if (r.phase !== 'Succeeded') throw new Error(await describeRun(r));
    const [a, b] = runs as [Run, Run];
    expect(a.outputs['record-id']).toBe(b.outputs['record-id']);

    const trustedRef = `${trusted!.host}/forge/team/twice@${c.digest}`;
    const statements = await verifyAttestation(trustedRef, PROMOTION_PREDICATE_TYPE, { key: promotionKey.publicKey, transparencyLog: false });
    expect(statements).toHaveLength(1);
    // Both runs report that attestation, and the record names it: a layer the .att tag still holds.
    expect(a.outputs['attestation-digest']).toBe(b.outputs['attestation-digest']);
    const att = JSON.parse(await crane(['manifest', '--insecure', `${trusted!.host}/forge/team/twice:sha256-${c.digest.slice('sha256:'.length)}.att`])) as { layers: { digest: string }[] };
    // (one promotion attestation beside the scanner's vulnerability attestation copied with the .att tag)
    expect(att.layers.map((l) => l.digest)).toHaveLength(2);
    expect(att.layers.map((l) => l.digest)).toContain(a.outputs['attestation-digest']);
    const [row] = await query<{ attestation_digest: string }>('SELECT attestation_digest FROM promotions WHERE id = $1', [a.outputs['record-id']]);
    expect(row!.attestation_digest).toBe(a.outputs['attestation-digest']);
  });

  it('refuses a verification key kept in a Secret that also holds the private key', async () => {
    const c = await candidate('leaky', '1000');
    const r = await promote(c.image, 'leaky');
    if (r.phase !== 'Failed') throw new Error(await describeRun(r));
    const verify = r.node('verify');
    expect(verify?.phase).toBe('Failed');
    expect(verify?.message).toContain(`INVALID_CONFIG: Secret ${env.namespace}/forge-developers-keypair holds private key material (cosign.key): a verification key must be public only`);
    expect(await exists(`${trusted!.host}/forge/team/leaky@${c.digest}`)).toBe(false);
  });

  let refused: { run: Run; digest: string } | undefined;

  it('refuses a signed image that runs as root at the policy node: nothing reaches the trusted registry', async () => {
    const c = await candidate('rooted', '0');
    const r = await promote(c.image);
    refused = { run: r, digest: c.digest };
    if (r.phase !== 'Failed') throw new Error(await describeRun(r));
    expect(r.submit.code).not.toBe(0);

    // The node's message is the tool's error, from the container's termination message (Argo
    // prefixes it with `main: Error (exit code 1): `: the container, then the reason).
    const policy = r.node('policy');
    expect(policy?.phase).toBe('Failed');
    expect(policy?.message).toContain('POLICY_VIOLATION');
    expect(policy?.message).toContain('non-root');
    expect(policy?.message).toContain('actual USER 0');
    expect(r.node('verify')?.phase).toBe('Succeeded');
    expect(r.node('scan')?.phase).toBe('Succeeded');
    for (const step of ['copy', 'attest', 'record']) expect(r.node(step)?.phase ?? 'absent', `node ${step}`).not.toBe('Succeeded');
    expect(r.outputs['trusted-reference'] ?? '').toBe('');

    // Nothing reached the trusted registry, nothing is in the allowlist.
    expect(await exists(`${trusted!.host}/forge/team/rooted@${c.digest}`)).toBe(false);
    expect(await query('SELECT id FROM promotions WHERE digest = $1', [c.digest])).toEqual([]);
  });

  it('appends the refusal to the audit trail from the exit handler', async () => {
    if (!refused) throw new Error('the refused run did not happen (see the previous test)');
    const r = refused.run;
    const audit = r.node('audit');
    if (audit?.phase !== 'Succeeded') {
      const logs = audit?.id ? await argo(env, ['logs', r.name, podName(r, audit), '--no-color'], 60_000) : undefined;
      throw new Error(`the exit handler's audit node ended ${audit?.phase ?? 'absent'}: ${audit?.message ?? ''}\n${logs?.stdout ?? ''}${logs?.stderr ?? ''}`);
    }
    const eventId = audit.outputs?.parameters?.find((p) => p.name === 'event-id')?.value;
    expect(eventId).toMatch(/^\d+$/);
    const [event] = await query<Record<string, string | null>>(
      'SELECT outcome, check_name, message, workflow_name, source_reference FROM promotion_events WHERE id = $1',
      [eventId],
    );
    expect(event).toMatchObject({ outcome: 'refused', check_name: 'policy', workflow_name: r.name });
    expect(event!.message).toMatch(/^POLICY_VIOLATION: .*non-root/);
  });
});
