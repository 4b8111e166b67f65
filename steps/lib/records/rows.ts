import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { DIGEST_PATTERN, parseReference } from '../reference.ts';
import type { Queryable } from './db.ts';

/** The records' inputs (zod schemas), outputs (row types) and the SQL that maps between them. */

export const digestSchema = z
  .string()
  .regex(DIGEST_PATTERN, { error: (i) => `digest must be sha256:<64 lowercase hex characters>, got ${JSON.stringify(i.input)}` });

/** A repository without tag or digest (`registry.example.com/team/app`). */
export const repositorySchema = z
  .string()
  .min(1, 'repository must not be empty')
  .refine((r) => !r.includes('@'), 'repository must not contain a digest (@sha256:…): pass the digest separately')
  .refine((r) => parseReference(r).tag === undefined, 'repository must not contain a tag');

const json = z.json();
const jsonObject = z.record(z.string(), z.json());
/** Optional text; empty (how Argo passes "not set") means absent. */
const optionalText = z
  .string()
  .optional()
  .transform((s) => s?.trim() || undefined);

export const promotionInputSchema = z.object({
  trustedRepository: repositorySchema,
  digest: digestSchema,
  /** What was asked for, as given (`incoming.example.com/team/app:1.2.3`). */
  sourceReference: z.string().min(1, 'sourceReference must not be empty'),
  /** Who signed it, as verified (identity, issuer, key reference…). */
  signer: jsonObject.default({}),
  /** Vulnerability counts and the scanner that produced them. */
  scanSummary: jsonObject.default({}),
  /** The policy checks and their results (steps/policy CheckResult[]). */
  policyResults: json.default([]),
  /** Digest of the promotion attestation pushed next to the image. */
  attestationDigest: digestSchema.optional(),
  workflowName: optionalText,
  workflowUid: optionalText,
});
export type PromotionInput = z.input<typeof promotionInputSchema>;

export const refusalInputSchema = z.object({
  sourceReference: z.string().min(1, 'sourceReference must not be empty'),
  /** 'refused': a check said no. 'failed': the run broke (registry down, copy failed…). */
  outcome: z.enum(['refused', 'failed']).default('refused'),
  /** The check that refused it (signature, vulnerabilities, size, pinned, not-latest, non-root…). */
  check: optionalText,
  message: z.string().min(1, 'message must say why'),
  details: jsonObject.default({}),
  /** Null when the run failed before the digest was known. */
  digest: digestSchema.optional(),
  trustedRepository: repositorySchema.optional(),
  workflowName: optionalText,
  workflowUid: optionalText,
});
export type RefusalInput = z.input<typeof refusalInputSchema>;

export type EventOutcome = 'promoted' | 'refused' | 'failed' | 'already-promoted';

export interface Promotion {
  id: string;
  trustedRepository: string;
  digest: string;
  sourceReference: string;
  signer: Record<string, unknown>;
  scanSummary: Record<string, unknown>;
  policyResults: unknown;
  attestationDigest: string | null;
  workflowName: string | null;
  workflowUid: string | null;
  /** ISO 8601. */
  promotedAt: string;
}

export interface PromotionEvent {
  /** bigserial, as a string (it can exceed 2^53). */
  id: string;
  occurredAt: string;
  sourceReference: string;
  digest: string | null;
  trustedRepository: string | null;
  outcome: EventOutcome;
  checkName: string | null;
  message: string;
  details: Record<string, unknown>;
  workflowName: string | null;
  workflowUid: string | null;
  promotionId: string | null;
}

export interface RecordResult {
  /** The allowlist row's id: the new one, or the existing one when the digest was already promoted. */
  id: string;
  /** False when the digest was already on the allowlist for that repository. */
  created: boolean;
  /** The audit event this call appended. */
  eventId: string;
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const details = result.error.issues.map((i) => ({ ...(i.path.length ? { field: i.path.join('.') } : {}), message: i.message }));
    throw new ForgeError('INVALID_ARGS', `invalid ${what}: ${details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join('; ')}`, details);
  }
  return result.data;
}

export const PROMOTION_COLUMNS = `id::text AS id, trusted_repository, digest, source_reference, signer, scan_summary, policy_results,
  attestation_digest, workflow_name, workflow_uid, promoted_at`;
export const EVENT_COLUMNS = `id::text AS id, occurred_at, source_reference, digest, trusted_repository, outcome, check_name, message,
  details, workflow_name, workflow_uid, promotion_id::text AS promotion_id`;

export interface PromotionRow {
  id: string;
  trusted_repository: string;
  digest: string;
  source_reference: string;
  signer: Record<string, unknown>;
  scan_summary: Record<string, unknown>;
  policy_results: unknown;
  attestation_digest: string | null;
  workflow_name: string | null;
  workflow_uid: string | null;
  promoted_at: Date | string;
}

export interface EventRow {
  id: string;
  occurred_at: Date | string;
  source_reference: string;
  digest: string | null;
  trusted_repository: string | null;
  outcome: EventOutcome;
  check_name: string | null;
  message: string;
  details: Record<string, unknown>;
  workflow_name: string | null;
  workflow_uid: string | null;
  promotion_id: string | null;
}

const iso = (t: Date | string) => (t instanceof Date ? t.toISOString() : new Date(t).toISOString());

export function toPromotion(r: PromotionRow): Promotion {
  return {
    id: r.id,
    trustedRepository: r.trusted_repository,
    digest: r.digest,
    sourceReference: r.source_reference,
    signer: r.signer,
    scanSummary: r.scan_summary,
    policyResults: r.policy_results,
    attestationDigest: r.attestation_digest,
    workflowName: r.workflow_name,
    workflowUid: r.workflow_uid,
    promotedAt: iso(r.promoted_at),
  };
}

export function toEvent(r: EventRow): PromotionEvent {
  return {
    id: r.id,
    occurredAt: iso(r.occurred_at),
    sourceReference: r.source_reference,
    digest: r.digest,
    trustedRepository: r.trusted_repository,
    outcome: r.outcome,
    checkName: r.check_name,
    message: r.message,
    details: r.details,
    workflowName: r.workflow_name,
    workflowUid: r.workflow_uid,
    promotionId: r.promotion_id,
  };
}

interface EventValues {
  sourceReference: string;
  digest?: string | undefined;
  trustedRepository?: string | undefined;
  outcome: EventOutcome;
  check?: string | undefined;
  message: string;
  details: unknown;
  workflowName?: string | undefined;
  workflowUid?: string | undefined;
  promotionId?: string | undefined;
}

export async function appendEvent(q: Queryable, e: EventValues): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO promotion_events
       (source_reference, digest, trusted_repository, outcome, check_name, message, details, workflow_name, workflow_uid, promotion_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::uuid)
     RETURNING id::text AS id`,
    [
      e.sourceReference,
      e.digest ?? null,
      e.trustedRepository ?? null,
      e.outcome,
      e.check ?? null,
      e.message,
      JSON.stringify(e.details ?? {}),
      e.workflowName ?? null,
      e.workflowUid ?? null,
      e.promotionId ?? null,
    ],
  );
  return rows[0]!.id;
}

