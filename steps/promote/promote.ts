import { attestPromotion } from '../attest/attest.ts';
import type { PromotionPredicate } from '../attest/predicate.ts';
import { promoteDigest } from '../copy/copy.ts';
import { ForgeError, isForgeError } from '../lib/errors.ts';
import type { PromotionRecords } from '../lib/records/records.ts';
import { evaluatePolicy, policyError, type PromotionPolicy } from '../policy/policy.ts';
import { resolveImage, trustedRepositoryFor } from '../resolve/resolve.ts';
import { createLogger } from '../lib/log.ts';
import { evaluateScan, scanSummary, type ScanPolicyInput } from '../scan/gate.ts';
import { readScan, type ScanSource } from '../scan/source.ts';
import { verifySignature, type VerifyPolicy } from '../verify/verify.ts';

export type StepName = 'resolve' | 'verify' | 'scan' | 'policy' | 'promote' | 'attest' | 'record';

export interface StepReport {
  step: StepName;
  ok: boolean;
  ms: number;
  summary: string;
}

export interface PromoteConfig {
  /** `<registry>/<path>` prefix developers push to; only images under it are promoted. */
  incoming: string;
  /** `<registry>/<path>` prefix of the trusted registry; the repository path below the prefix is kept. */
  trusted: string;
  verify: VerifyPolicy;
  /**
   * Where the scan result comes from: a vulnerability attestation on the image verified with the
   * scanner's key or identity (the default), or — on a laptop only — an unverified report file.
   */
  scanSource: ScanSource;
  scan: Omit<ScanPolicyInput, 'digest'>;
  policy: PromotionPolicy;
  /** Promotion key: signs the attestation; `verifyKey` checks it straight after. */
  attest: { key: string; password?: string; verifyKey: string };
  workflow: { name: string; uid: string };
}

/** What the chain needs of the records store (steps/lib/records). */
export type RecordsPort = Pick<PromotionRecords, 'recordPromotion' | 'recordRefusal' | 'exclusive'>;

export interface PromoteResult {
  source: string;
  digest: string;
  trustedReference: string;
  attestationDigest: string;
  recordId: string;
  /** False when this digest had already been promoted (a rerun or a concurrent promotion). */
  created: boolean;
  steps: StepReport[];
}

/** Plain data for the records' JSON columns (drops undefined, checks it serializes). */
const asJson = (value: unknown): never => JSON.parse(JSON.stringify(value)) as never;

/**
 * verify-and-promote without a cluster: the same steps the WorkflowTemplate runs, in order.
 * Every gate runs before anything is written to the trusted registry; the record is written only
 * after the copy and the attestation succeeded. A refusal is appended to the audit trail and
 * rethrown with the failing step's reason.
 */
export async function promote(image: string, config: PromoteConfig, records: RecordsPort, onStep: (r: StepReport) => void = () => undefined): Promise<PromoteResult> {
  const steps: StepReport[] = [];
  const log = createLogger('promote');
  // What the audit trail can say about a refusal grows as the steps learn it.
  const known: { digest?: string; trustedRepository?: string } = {};
  const run = async <T>(step: StepName, fn: () => Promise<T>, summarize: (t: T) => string): Promise<T> => {
    const t0 = performance.now();
    try {
      const value = await fn();
      const report = { step, ok: true, ms: Math.round(performance.now() - t0), summary: summarize(value) };
      steps.push(report);
      onStep(report);
      return value;
    } catch (e) {
      const message = isForgeError(e) ? e.message : (e as Error).message;
      const report = { step, ok: false, ms: Math.round(performance.now() - t0), summary: message };
      steps.push(report);
      onStep(report);
      await records
        .recordRefusal({
          sourceReference: image,
          digest: known.digest,
          trustedRepository: known.trustedRepository,
          outcome: isForgeError(e) && ['SIGNATURE_INVALID', 'SCAN_BLOCKED', 'POLICY_VIOLATION'].includes(e.code) ? 'refused' : 'failed',
          check: step,
          message,
          details: asJson(isForgeError(e) ? { code: e.code, details: e.details } : {}),
          workflowName: config.workflow.name,
          workflowUid: config.workflow.uid,
        })
        .catch(() => undefined); // the audit trail must not hide the real error
      throw e;
    }
  };

  const { r, trustedRepository } = await run(
    'resolve',
    async () => {
      // The boundary first: no registry is contacted for an image outside the incoming registry.
      known.trustedRepository = trustedRepositoryFor(image, config);
      const resolved = await resolveImage(image);
      known.digest = resolved.digest;
      return { r: resolved, trustedRepository: known.trustedRepository };
    },
    (x) => `${x.r.reference} (${x.r.platforms.length} platform(s)) → ${x.trustedRepository}`,
  );
  // The three gates are independent: run them together and report every one that says no.
  const gates = await Promise.allSettled([
    run('verify', () => verifySignature(r.reference, config.verify), (x) => `signed by ${x.signer}`),
    run(
      'scan',
      async () => {
        const scan = await readScan(r.reference, config.scanSource, log);
        const result = evaluateScan(scan.report, { ...config.scan, digest: r.digest });
        if (!result.passed) throw new ForgeError('SCAN_BLOCKED', result.message);
        return Object.assign(result, { origin: scan.origin });
      },
      (x) => x.message,
    ),
    run(
      'policy',
      async () => {
        const result = evaluatePolicy(r, config.policy);
        if (!result.passed) throw policyError(r, result);
        return result;
      },
      (x) => x.checks.map((c) => `${c.check} ✓`).join(', '),
    ),
  ]);
  const refusal = gates.find((g) => g.status === 'rejected');
  if (refusal) throw refusal.reason;
  const [signer, scan, policy] = gates.map((g) => (g as PromiseFulfilledResult<unknown>).value) as [
    Awaited<ReturnType<typeof verifySignature>>,
    ReturnType<typeof evaluateScan> & { origin: string },
    ReturnType<typeof evaluatePolicy>,
  ];
  // Copy and attest take the same per-image lock (as the template's mutex): no attestation is
  // signed between the copy's check for trusted .sig/.att tags and its write of missing ones.
  const lockKey = `${trustedRepository}@${r.digest}`;
  const copied = await run(
    'promote',
    () => records.exclusive(lockKey, () => promoteDigest(r.repository, r.digest, trustedRepository)),
    (x) => `${x.copied ? 'copied to' : 'already in'} ${x.reference}`,
  );
  const predicate: PromotionPredicate = {
    source: r.reference,
    digest: r.digest,
    trusted: copied.reference,
    signer: signer.signer,
    scan: { ...scanSummary(scan), report: scan.origin },
    policy: policy.checks,
    workflow: config.workflow,
    promotedAt: new Date().toISOString(),
  };
  const attested = await run(
    'attest',
    // One promotion of this image at a time signs (the template's mutex on `attest` does the same).
    () =>
      records.exclusive(lockKey, () =>
        attestPromotion(
          copied.reference,
          predicate,
          { key: config.attest.key, password: config.attest.password, transparencyLog: config.verify.transparencyLog },
          { key: config.attest.verifyKey, transparencyLog: config.verify.transparencyLog },
        ),
      ),
    (x) => `${x.created ? 'signed' : 'found'} ${x.attestationDigest}`,
  );
  const record = await run(
    'record',
    () =>
      records.recordPromotion({
        trustedRepository: trustedRepository,
        digest: r.digest,
        sourceReference: r.reference,
        signer: { signer: signer.signer, transparencyLog: signer.transparencyLog },
        scanSummary: asJson({ ...scanSummary(scan), report: scan.origin }),
        policyResults: asJson(policy.checks),
        attestationDigest: attested.attestationDigest,
        workflowName: config.workflow.name,
        workflowUid: config.workflow.uid,
      }),
    (x) => `${x.created ? 'recorded' : 'already recorded'} ${x.id}`,
  );
  return {
    source: image,
    digest: r.digest,
    trustedReference: copied.reference,
    attestationDigest: attested.attestationDigest,
    recordId: record.id,
    created: record.created,
    steps,
  };
}

