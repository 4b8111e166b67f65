import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { DIGEST_PATTERN } from '../lib/reference.ts';
import { record, type RecordRequest } from './record.ts';

export type { RecordOutput } from './record.ts';

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
  --database-url URL         PostgreSQL server, as the runtime role (pass it as
                             FORGE_DATABASE_URL from a Secret). Its schema must have been
                             migrated by the owner (forge records migrate); this step checks
                             the version and never migrates. Never printed: output and
                             errors show postgresql://HOST:PORT/DATABASE only.
                             Without it: embedded PGlite under --state-dir (migrated on open,
                             one process at a time)
  --state-dir DIR            embedded PGlite keeps its data in DIR/records
                             (default: $FORGE_STATE_DIR or ~/.local/state/forge-workflows)
  --outputs-dir DIR          also write Argo output files to DIR: record-id ('' for a
                             refusal), created (true/false), event-id

Prints the result as JSON (whatever --output says).
`;

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

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'record',
    usage,
    schema,
    async run(values, _positionals, log) {
      const result = await record(await requestOf(values), { databaseUrl: values['database-url'], stateDir: values['state-dir'] });
      log.info(result, result.created ? 'recorded the promotion' : `recorded: ${result.outcome}`);
      // The template's outputs read these files (valueFrom.path); every one is always written.
      return { result, outputs: outputFiles('record', { 'record-id': result.id, created: String(result.created), 'event-id': result.eventId }) };
    },
  });
}

/** The options as a request: JSON options parsed (inline or @FILE), workflow name/uid defaulted from Argo's env. */
async function requestOf(values: Values): Promise<RecordRequest> {
  return {
    outcome: values.outcome,
    sourceReference: values['source-reference'],
    trustedReference: values['trusted-reference'],
    signer: await signerOption(values.signer),
    scanSummary: await jsonOption('scan-summary', values['scan-summary'], 'object'),
    policyResults: await jsonOption('policy-results', values['policy-results'], 'any'),
    attestationDigest: values['attestation-digest'],
    check: values.check,
    message: values.message,
    details: await jsonOption('details', values.details, 'object'),
    failures: values.failures,
    workflowName: values['workflow-name'] ?? (process.env.ARGO_WORKFLOW_NAME || undefined),
    workflowUid: values['workflow-uid'] ?? (process.env.ARGO_WORKFLOW_UID || undefined),
  };
}
