import { ForgeError } from '../lib/errors.ts';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { PromotionRecords, type PromotionInput, type RefusalInput } from '../lib/records/records.ts';
import { DIGEST_PATTERN, parsePinnedReference, parseReference } from '../lib/reference.ts';

/**
 * The record step's core: what is recorded (a promotion on the allowlist, or a refusal or
 * failure in the audit trail, possibly read from Argo's `{{workflow.failures}}`) and how (every
 * input validated before the database is opened; a server's schema checked, never migrated).
 * The CLI (cli.ts) only parses argv/env into a {@link RecordRequest} and writes the outputs.
 */

export interface RecordRequest {
  /** promoted (default), refused or failed. */
  outcome: 'promoted' | 'refused' | 'failed';
  sourceReference?: string | undefined;
  /** `REPOSITORY@sha256:…` in the trusted registry: required for a promotion. */
  trustedReference?: string | undefined;
  /** Parsed JSON (or `{signer: TEXT}`), validated by the records store. */
  signer?: unknown;
  scanSummary?: unknown;
  policyResults?: unknown;
  attestationDigest?: string | undefined;
  check?: string | undefined;
  message?: string | undefined;
  details?: unknown;
  /** Argo's `{{workflow.failures}}` (raw JSON): outcome, check, message and details come from it. */
  failures?: string | undefined;
  workflowName?: string | undefined;
  workflowUid?: string | undefined;
}

/** Where the records are: a server URL (its schema must be migrated), else PGlite under `stateDir`. */
export interface RecordTarget {
  databaseUrl?: string | undefined;
  stateDir?: string | undefined;
}

export interface RecordOutput {
  outcome: 'promoted' | 'already-promoted' | 'refused' | 'failed';
  /** Allowlist record id ('' for a refusal). */
  id: string;
  created: boolean;
  eventId: string;
  trustedReference?: string;
  /** `location` is `postgresql://HOST:PORT/DATABASE` or a directory: never a URL with credentials. */
  database: { kind: 'postgres' | 'pglite'; location: string };
}

/** Codes of a gate that said no (the image was refused) rather than a run that broke. */
const REFUSAL = /^(SIGNATURE_INVALID|SCAN_BLOCKED|POLICY_VIOLATION)\b/;

/**
 * Argo's `{{workflow.failures}}` (in an exit handler): the failed nodes with their messages — a
 * step's termination message, i.e. its ForgeError. The first one is the check that stopped the run.
 */
export function fromFailures(json: string): { outcome: 'refused' | 'failed'; check: string; message: string; details: Record<string, unknown> } {
  let failures: { displayName?: string; templateName?: string; message?: string; phase?: string }[];
  try {
    let parsed: unknown = JSON.parse(json);
    // Argo (v3.6 operator.go) passes the list Go-quoted: a JSON string holding the JSON.
    if (typeof parsed === 'string') parsed = JSON.parse(parsed);
    if (!Array.isArray(parsed)) throw new Error('not a list');
    failures = parsed;
  } catch (e) {
    throw new ForgeError('INVALID_ARGS', `--failures is not the JSON list Argo passes as {{workflow.failures}}: ${(e as Error).message}`);
  }
  // Argo prefixes a failed pod's message with `Error (exit code N): ` (v3.6) or
  // `<container>: Error (exit code N): ` (v4, operator.go); the step's own words follow.
  const cleaned = failures.map((f) => ({ ...f, message: (f.message ?? '').replace(/^(?:[\w.-]+: )?\w+ \(exit code \d+\): /, '').trim() }));
  // The list comes from a map (random order) and holds parent nodes too: prefer a gate's refusal,
  // then any failure that says why.
  const first = cleaned.find((f) => REFUSAL.test(f.message)) ?? cleaned.find((f) => f.message) ?? cleaned[0];
  const message = first?.message || 'the workflow failed before any step reported why';
  return {
    outcome: REFUSAL.test(message) ? 'refused' : 'failed',
    check: first?.displayName ?? first?.templateName ?? 'workflow',
    message,
    details: { failures: cleaned.map((f) => ({ node: f.displayName ?? f.templateName ?? '', phase: f.phase ?? '', message: f.message })) },
  };
}

const required = (name: string, value: string | undefined, why: string): string => {
  if (value === undefined) throw new ForgeError('INVALID_ARGS', `--${name} is required ${why}`);
  return value;
};

type Write = (records: PromotionRecords) => Promise<Omit<RecordOutput, 'database'>>;

/** Validates the request and returns what to write; nothing is opened yet. */
export function planRecord(request: RecordRequest): Write {
  let r = request;
  if (r.failures) {
    const failure = fromFailures(r.failures);
    r = { ...r, outcome: failure.outcome, check: r.check ?? failure.check, message: r.message ?? failure.message, details: r.details ?? failure.details };
  }
  const sourceReference = required('source-reference', r.sourceReference, '(the reference promotion was asked for)');
  if (r.outcome === 'promoted') {
    const trusted = parsePinnedReference(required('trusted-reference', r.trustedReference, 'to record a promotion'));
    const input = {
      trustedRepository: trusted.repository,
      digest: trusted.digest,
      sourceReference,
      signer: r.signer,
      scanSummary: r.scanSummary,
      policyResults: r.policyResults,
      attestationDigest: r.attestationDigest,
      workflowName: r.workflowName,
      workflowUid: r.workflowUid,
    } as PromotionInput; // the JSON values are validated by recordPromotion
    const trustedReference = `${trusted.repository}@${trusted.digest}`;
    return async (records) => {
      const result = await records.recordPromotion(input);
      return { outcome: result.created ? 'promoted' : 'already-promoted', id: result.id, created: result.created, eventId: result.eventId, trustedReference };
    };
  }
  const outcome = r.outcome;
  const message = required('message', r.message, `to record a ${outcome} promotion`);
  // The digest, where one is known: from the trusted reference, else from a pinned source reference.
  const trusted = r.trustedReference ? parseReference(r.trustedReference) : undefined;
  const digest = trusted?.digest ?? parseReference(sourceReference).digest;
  if (digest !== undefined && !DIGEST_PATTERN.test(digest)) {
    throw new ForgeError('INVALID_ARGS', `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex characters>`);
  }
  const input = {
    sourceReference,
    outcome,
    check: r.check,
    message,
    details: r.details,
    digest,
    trustedRepository: trusted?.repository,
    workflowName: r.workflowName,
    workflowUid: r.workflowUid,
  } as RefusalInput; // details is validated by recordRefusal
  return async (records) => {
    const result = await records.recordRefusal(input);
    return { outcome, id: '', created: false, eventId: result.eventId, ...(trusted ? { trustedReference: r.trustedReference } : {}) };
  };
}

/**
 * Records the request: validates it first (opening a new PGlite directory takes seconds), then
 * opens the records — a server's schema is checked, not migrated (`forge records migrate` does
 * that, as the owner) — writes, and closes.
 */
export async function record(request: RecordRequest, target: RecordTarget): Promise<RecordOutput> {
  const write = planRecord(request);
  const db = await openDatabase(target.databaseUrl ? { url: target.databaseUrl } : { dataDir: defaultDataDir(target.stateDir) });
  try {
    return { ...(await write(new PromotionRecords(db))), database: { kind: db.kind, location: db.location } };
  } finally {
    await db.close();
  }
}
