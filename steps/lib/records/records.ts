import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { parsePinnedReference } from '../reference.ts';
import type { Database } from './db.ts';
import { RECORDS_FAILED } from './driver-error.ts';
import {
  appendEvent,
  digestSchema,
  EVENT_COLUMNS,
  parseInput,
  PROMOTION_COLUMNS,
  promotionInputSchema,
  refusalInputSchema,
  repositorySchema,
  toEvent,
  toPromotion,
  type EventRow,
  type Promotion,
  type PromotionEvent,
  type PromotionInput,
  type PromotionRow,
  type RecordResult,
  type RefusalInput,
} from './rows.ts';

export type { EventOutcome, Promotion, PromotionEvent, PromotionInput, RecordResult, RefusalInput } from './rows.ts';
export { promotionInputSchema, refusalInputSchema } from './rows.ts';

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
      // Stryker disable next-line ConditionalExpression: equivalent: after an insert, the lookup finds that same row
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

  /** Every promotion of one digest (to any trusted repository), oldest first: what a release looks up for an image it built. */
  async promotionsOf(digest: string): Promise<Promotion[]> {
    const d = parseInput(digestSchema, digest, 'lookup');
    const { rows } = await this.db.query<PromotionRow>(`SELECT ${PROMOTION_COLUMNS} FROM promotions WHERE digest = $1 ORDER BY promoted_at, id`, [d]);
    return rows.map(toPromotion);
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
