import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { commonOptions, commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { PromotionRecords, type PromotionInput, type RefusalInput } from '../lib/records/records.ts';
import { DIGEST_PATTERN, parsePinnedReference, parseReference } from '../lib/reference.ts';

export const usage = `Usage: forge record [options]

Puts a promoted image on the promotion allowlist and appends the promotion to the audit trail.
With --failures (Argo's {{workflow.failures}}, in an exit handler) it records why a run was
refused or failed instead.
Run it only after the exact digest was copied into the trusted registry and the promotion was
attested: a record must never exist without its manifest. Recording a digest again is a no-op
that returns the existing record (created=false).

With --outcome refused or failed it appends a refusal to the audit trail instead, and leaves
the allowlist untouched.

Options (each may also come from FORGE_<OPTION>, e.g. FORGE_TRUSTED_REFERENCE):
  --trusted-reference REF    REPOSITORY@sha256:<64 hex> in the trusted registry
                             (required for promoted; a tag before the digest is ignored)
  --source-reference REF     the reference promotion was asked for (required)
  --signer SIGNER            the verified signer: a JSON object (or @FILE), or the plain
                             text forge verify outputs (stored as {"signer": TEXT})
  --scan-summary JSON        the vulnerability summary, a JSON object (or @FILE)
  --policy-results JSON      the policy check results, JSON (or @FILE)
  --attestation-digest DGST  sha256 digest of the promotion attestation
  --workflow-name NAME       Argo workflow name (default: $ARGO_WORKFLOW_NAME)
  --workflow-uid UID         Argo workflow uid (default: $ARGO_WORKFLOW_UID)
  --outcome OUTCOME          promoted (default), refused or failed
  --check NAME               refused: the check that refused the image
  --message TEXT             refused/failed: what happened (required for them)
  --details JSON             refused/failed: details, a JSON object (or @FILE)
  --failures JSON            Argo's {{workflow.failures}}: outcome, check and message are taken
                             from the first failed node (refused for a gate's SIGNATURE_INVALID,
                             SCAN_BLOCKED or POLICY_VIOLATION, failed otherwise)
  --database-url URL         PostgreSQL server (pass it as FORGE_DATABASE_URL from a Secret);
                             without it: embedded PGlite under --state-dir
  --state-dir DIR            embedded PGlite keeps its data in DIR/records
                             (default: $FORGE_STATE_DIR or ~/.local/state/forge-workflows)
  --outputs-dir DIR          also write Argo output files to DIR: record-id ('' for a
                             refusal), created (true/false), event-id

Prints the result as JSON (whatever --output says).
`;

export const options = {
  'trusted-reference': { type: 'string' },
  'source-reference': { type: 'string' },
  signer: { type: 'string' },
  'scan-summary': { type: 'string' },
  'policy-results': { type: 'string' },
  'attestation-digest': { type: 'string' },
  'workflow-name': { type: 'string' },
  'workflow-uid': { type: 'string' },
  outcome: { type: 'string' },
  check: { type: 'string' },
  message: { type: 'string' },
  details: { type: 'string' },
  failures: { type: 'string' },
  'database-url': { type: 'string' },
  'state-dir': { type: 'string' },
  ...commonOptions,
} as const;

/** Empty strings are how Argo passes "not set" for optional parameters. */
const text = z
  .string()
  .optional()
  .transform((s) => s?.trim() || undefined);

const schema = z.object({
  'trusted-reference': text,
  'source-reference': text,
  signer: text,
  'scan-summary': text,
  'policy-results': text,
  'attestation-digest': text.refine((d) => d === undefined || DIGEST_PATTERN.test(d), 'must be sha256:<64 lowercase hex characters>'),
  'workflow-name': text,
  'workflow-uid': text,
  outcome: z
    .union([z.literal(''), z.enum(['promoted', 'refused', 'failed'])])
    .optional()
    .transform((o) => o || 'promoted'),
  check: text,
  message: text,
  details: text,
  failures: text,
  'database-url': text,
  'state-dir': text,
  ...commonSchema,
});

type Values = z.infer<typeof schema>;

/** A JSON option: inline JSON, or `@path` to read it from a file (large scan summaries). */
async function jsonOption(name: string, value: string | undefined, kind: 'object' | 'any'): Promise<unknown> {
  if (value === undefined) return undefined;
  let source = value;
  if (value.startsWith('@')) {
    try {
      source = await readFile(value.slice(1), 'utf8');
    } catch (e) {
      throw new ForgeError('INVALID_ARGS', `--${name}: cannot read ${value.slice(1)}: ${(e as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (e) {
    throw new ForgeError('INVALID_ARGS', `--${name} is not valid JSON: ${(e as Error).message}`);
  }
  if (kind === 'object' && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
    throw new ForgeError('INVALID_ARGS', `--${name} must be a JSON object ({...})`);
  }
  return parsed;
}

/** `forge verify` outputs the signer as text (`key:…`, an identity); a JSON object is kept as is. */
async function signerOption(value: string | undefined): Promise<unknown> {
  if (value === undefined) return undefined;
  if (value.startsWith('{') || value.startsWith('@')) return jsonOption('signer', value, 'object');
  return { signer: value };
}

const required = (name: string, value: string | undefined, why: string): string => {
  if (value === undefined) throw new ForgeError('INVALID_ARGS', `--${name} is required ${why}`);
  return value;
};

export interface RecordOutput {
  outcome: 'promoted' | 'already-promoted' | 'refused' | 'failed';
  /** Allowlist record id ('' for a refusal). */
  id: string;
  created: boolean;
  eventId: string;
  trustedReference?: string;
  database: { kind: 'postgres' | 'pglite'; location: string };
}

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'record',
    usage,
    options,
    schema,
    async run(values, _positionals, log) {
      const result = await record(values);
      log.info(result, result.created ? 'recorded the promotion' : `recorded: ${result.outcome}`);
      // The template's outputs read these files (valueFrom.path); every one is always written.
      return { result, outputs: { 'record-id': result.id, created: String(result.created), 'event-id': result.eventId } };
    },
  });
}

/** Codes of a gate that said no (the image was refused) rather than a run that broke. */
const REFUSAL = /^(SIGNATURE_INVALID|SCAN_BLOCKED|POLICY_VIOLATION)\b/;

/**
 * Argo's `{{workflow.failures}}` (in an exit handler): the failed nodes with their messages — a
 * step's termination message, i.e. its ForgeError. The first one is the check that stopped the run.
 */
function fromFailures(json: string): { outcome: 'refused' | 'failed'; check: string; message: string; details: Record<string, unknown> } {
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

async function record(values: Values): Promise<RecordOutput> {
  if (values.failures) {
    const failure = fromFailures(values.failures);
    values = { ...values, outcome: failure.outcome, check: values.check ?? failure.check, message: values.message ?? failure.message, details: values.details ?? JSON.stringify(failure.details) };
  }
  const sourceReference = required('source-reference', values['source-reference'], '(the reference promotion was asked for)');
  const workflowName = values['workflow-name'] ?? (process.env.ARGO_WORKFLOW_NAME || undefined);
  const workflowUid = values['workflow-uid'] ?? (process.env.ARGO_WORKFLOW_UID || undefined);

  // Validate everything before opening the database (opening a new PGlite directory takes seconds).
  let write: (records: PromotionRecords) => Promise<Omit<RecordOutput, 'database'>>;
  if (values.outcome === 'promoted') {
    const trusted = parsePinnedReference(required('trusted-reference', values['trusted-reference'], 'to record a promotion'));
    const input = {
      trustedRepository: trusted.repository,
      digest: trusted.digest,
      sourceReference,
      signer: await signerOption(values.signer),
      scanSummary: await jsonOption('scan-summary', values['scan-summary'], 'object'),
      policyResults: await jsonOption('policy-results', values['policy-results'], 'any'),
      attestationDigest: values['attestation-digest'],
      workflowName,
      workflowUid,
    } as PromotionInput; // the JSON values are validated by recordPromotion
    const trustedReference = `${trusted.repository}@${trusted.digest}`;
    write = async (records) => {
      const r = await records.recordPromotion(input);
      return { outcome: r.created ? 'promoted' : 'already-promoted', id: r.id, created: r.created, eventId: r.eventId, trustedReference };
    };
  } else {
    const outcome = values.outcome;
    const message = required('message', values.message, `to record a ${outcome} promotion`);
    // The digest, where one is known: from the trusted reference, else from a pinned source reference.
    const trusted = values['trusted-reference'] ? parseReference(values['trusted-reference']) : undefined;
    const digest = trusted?.digest ?? parseReference(sourceReference).digest;
    if (digest !== undefined && !DIGEST_PATTERN.test(digest)) {
      throw new ForgeError('INVALID_ARGS', `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex characters>`);
    }
    const input = {
      sourceReference,
      outcome,
      check: values.check,
      message,
      details: await jsonOption('details', values.details, 'object'),
      digest,
      trustedRepository: trusted?.repository,
      workflowName,
      workflowUid,
    } as RefusalInput; // details is validated by recordRefusal
    write = async (records) => {
      const r = await records.recordRefusal(input);
      return { outcome, id: '', created: false, eventId: r.eventId, ...(trusted ? { trustedReference: values['trusted-reference'] } : {}) };
    };
  }

  const url = values['database-url'];
  const db = await openDatabase(url ? { url } : { dataDir: defaultDataDir(values['state-dir']) });
  try {
    return { ...(await write(new PromotionRecords(db))), database: { kind: db.kind, location: db.location } };
  } finally {
    await db.close();
  }
}
