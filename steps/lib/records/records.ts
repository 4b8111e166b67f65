import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { DIGEST_PATTERN, parsePinnedReference, parseReference } from '../reference.ts';
import type { Database, Queryable } from './db.ts';
import { RECORDS_FAILED } from './driver-error.ts';

/**
 * The promotion allowlist and its audit trail (verify-and-promote, step "record").
 *
 * Ordering is the caller's job, and it matters: call {@link PromotionRecords.recordPromotion}
 * only after the exact digest was copied into the trusted registry *and* the promotion attestation
 * was pushed. A failure before that must leave no allowlist row (a row without its manifest would
 * let admission trust an image that is not there); record it with
 * {@link PromotionRecords.recordRefusal} instead. Nothing here talks to a registry: it records
 * what the caller says happened.
 *
 * Recording is idempotent: promoting a digest that is already on the allowlist keeps the first
 * row (first writer wins, its metadata is not overwritten), returns its id with `created: false`
 * and appends an 'already-promoted' event. Concurrent promotions of one digest, from any number of
 * processes, end with exactly one row and every caller gets the same id.
 */


const digestSchema = z
  .string()
  .regex(DIGEST_PATTERN, { error: (i) => `digest must be sha256:<64 lowercase hex characters>, got ${JSON.stringify(i.input)}` });

/** A repository without tag or digest (`registry.example.com/team/app`). */
const repositorySchema = z
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

function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const details = result.error.issues.map((i) => ({ ...(i.path.length ? { field: i.path.join('.') } : {}), message: i.message }));
    throw new ForgeError('INVALID_ARGS', `invalid ${what}: ${details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join('; ')}`, details);
  }
  return result.data;
}

const PROMOTION_COLUMNS = `id::text AS id, trusted_repository, digest, source_reference, signer, scan_summary, policy_results,
  attestation_digest, workflow_name, workflow_uid, promoted_at`;
const EVENT_COLUMNS = `id::text AS id, occurred_at, source_reference, digest, trusted_repository, outcome, check_name, message,
  details, workflow_name, workflow_uid, promotion_id::text AS promotion_id`;

interface PromotionRow {
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

interface EventRow {
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

function toPromotion(r: PromotionRow): Promotion {
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

function toEvent(r: EventRow): PromotionEvent {
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

async function appendEvent(q: Queryable, e: EventValues): Promise<string> {
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

export class PromotionRecords {
  constructor(private readonly db: Database) {}

  /**
   * Puts `trustedRepository@digest` on the allowlist and appends a 'promoted' event, in one
   * transaction; when it is already there, returns the existing id (`created: false`) and
   * appends an 'already-promoted' event. Call it only after promote and attest succeeded.
   */
  async recordPromotion(input: PromotionInput): Promise<RecordResult> {
    const p = parseInput(promotionInputSchema, input, 'promotion record');
    return this.db.transaction(async (tx) => {
      // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit and then
      // does nothing; the SELECT (a new snapshot under READ COMMITTED) then sees that row.
      const inserted = await tx.query<{ id: string }>(
        `INSERT INTO promotions
           (trusted_repository, digest, source_reference, signer, scan_summary, policy_results, attestation_digest, workflow_name, workflow_uid)
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9)
         ON CONFLICT (trusted_repository, digest) DO NOTHING
         RETURNING id::text AS id`,
        [
          p.trustedRepository,
          p.digest,
          p.sourceReference,
          JSON.stringify(p.signer),
          JSON.stringify(p.scanSummary),
          JSON.stringify(p.policyResults),
          p.attestationDigest ?? null,
          p.workflowName ?? null,
          p.workflowUid ?? null,
        ],
      );
      let id = inserted.rows[0]?.id;
      const created = id !== undefined;
      if (id === undefined) {
        const existing = await tx.query<{ id: string }>('SELECT id::text AS id FROM promotions WHERE trusted_repository = $1 AND digest = $2', [
          p.trustedRepository,
          p.digest,
        ]);
        id = existing.rows[0]?.id;
        if (id === undefined) {
          // Only possible if the row was deleted between the two statements.
          throw new ForgeError(RECORDS_FAILED, `${p.trustedRepository}@${p.digest} conflicted on insert but is not on the allowlist: retry`);
        }
      }
      const eventId = await appendEvent(tx, {
        sourceReference: p.sourceReference,
        digest: p.digest,
        trustedRepository: p.trustedRepository,
        outcome: created ? 'promoted' : 'already-promoted',
        message: created
          ? `promoted ${p.sourceReference} to ${p.trustedRepository}@${p.digest}`
          : `${p.trustedRepository}@${p.digest} was already promoted; kept the existing record`,
        // What this attempt carried, so a repeat with different metadata is visible in the trail.
        details: created ? {} : { attestationDigest: p.attestationDigest ?? null, signer: p.signer, scanSummary: p.scanSummary },
        workflowName: p.workflowName,
        workflowUid: p.workflowUid,
        promotionId: id,
      });
      return { id, created, eventId };
    });
  }

  /**
   * Runs `fn` while no other promotion of `trustedReference` (`<repository>@<digest>`) using
   * this database runs its own: the attestation step takes turns, because cosign adds an
   * attestation by rewriting the `.att` manifest and a registry tag has no compare-and-swap.
   */
  async exclusive<T>(trustedReference: string, fn: () => Promise<T>): Promise<T> {
    return this.db.withLock(`forge-attest:${trustedReference}`, fn);
  }

  /** Appends a 'refused' (a check said no) or 'failed' (the run broke) event; the allowlist is untouched. */
  async recordRefusal(input: RefusalInput): Promise<{ eventId: string }> {
    const r = parseInput(refusalInputSchema, input, 'refusal record');
    const eventId = await appendEvent(this.db, {
      sourceReference: r.sourceReference,
      digest: r.digest,
      trustedRepository: r.trustedRepository,
      outcome: r.outcome,
      check: r.check,
      message: r.message,
      details: r.details,
      workflowName: r.workflowName,
      workflowUid: r.workflowUid,
    });
    return { eventId };
  }

  async findPromotion(trustedRepository: string, digest: string): Promise<Promotion | undefined> {
    const key = parseInput(z.object({ trustedRepository: repositorySchema, digest: digestSchema }), { trustedRepository, digest }, 'lookup');
    const { rows } = await this.db.query<PromotionRow>(`SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE trusted_repository = $1 AND digest = $2`, [
      key.trustedRepository,
      key.digest,
    ]);
    return rows[0] ? toPromotion(rows[0]) : undefined;
  }

  /**
   * Is `repository@sha256:…` on the allowlist? A tag before the digest is ignored (the digest is
   * what runs). A reference that is not pinned by a well-formed digest is an INVALID_ARGS error,
   * not `false`: asking about a tag is a bug in the caller.
   */
  async isAllowed(reference: string): Promise<boolean> {
    const { repository, digest } = parsePinnedReference(reference);
    const { rows } = await this.db.query('SELECT 1 FROM promotions WHERE trusted_repository = $1 AND digest = $2', [repository, digest]);
    return rows.length > 0;
  }

  /** Audit events, newest first; optionally only those about one digest. */
  async listEvents(opts: { digest?: string; limit?: number } = {}): Promise<PromotionEvent[]> {
    const o = parseInput(z.object({ digest: digestSchema.optional(), limit: z.number().int().min(1).max(10_000).default(100) }), opts, 'event query');
    const { rows } =
      o.digest === undefined
        ? await this.db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM promotion_events ORDER BY id DESC LIMIT $1`, [o.limit])
        : await this.db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM promotion_events WHERE digest = $1 ORDER BY id DESC LIMIT $2`, [o.digest, o.limit]);
    return rows.map(toEvent);
  }
}
