import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import type { Database } from './db.ts';

/**
 * Approvals of deployments to protected environments (migration 006): who approved which
 * release for which environment, why, and until when. Times are the database's: a client
 * cannot backdate an approval or stretch it past 30 days. Only an approval that is neither
 * expired nor revoked lets a protected deployment go on.
 */
export const approvalInputSchema = z.object({
  repository: z.string().min(1).max(255),
  project: z.string().min(1).max(63),
  commit: z.string().regex(/^[0-9a-f]{40}$/, 'must be the release commit SHA'),
  environment: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be an environment name'),
  approvedBy: z.string().min(1).max(255),
  reason: z.string().trim().min(1, 'an approval says why').max(1000),
  /** How long it counts (hours; the environment's approvalTtlHours, 24 by default). */
  ttlHours: z.number().min(1 / 60).max(24 * 30).default(24),
});
export type ApprovalInput = z.input<typeof approvalInputSchema>;

export interface Approval {
  id: string;
  repository: string;
  project: string;
  commit: string;
  environment: string;
  approvedBy: string;
  reason: string;
  approvedAt: Date;
  expiresAt: Date;
  status: 'active' | 'expired' | 'revoked';
  revokedBy?: string;
}

interface Row {
  id: string;
  repository: string;
  project: string;
  commit_sha: string;
  environment: string;
  approved_by: string;
  reason: string;
  approved_at: Date;
  expires_at: Date;
  revoked_by: string | null;
  active: boolean;
}

const SELECT = `SELECT a.*, r.revoked_by, (r.approval_id IS NULL AND a.expires_at > now()) AS active
  FROM approvals a LEFT JOIN approval_revocations r ON r.approval_id = a.id`;

const toApproval = (r: Row): Approval => ({
  id: r.id, repository: r.repository, project: r.project, commit: r.commit_sha, environment: r.environment, approvedBy: r.approved_by, reason: r.reason,
  approvedAt: r.approved_at, expiresAt: r.expires_at, status: r.revoked_by ? 'revoked' : r.active ? 'active' : 'expired', ...(r.revoked_by ? { revokedBy: r.revoked_by } : {}),
});

export class ApprovalRecords {
  constructor(private readonly db: Database) {}

  /** Records an approval of a recorded release; refused for a release that was never recorded. */
  async approve(input: ApprovalInput): Promise<Approval> {
    const parsed = approvalInputSchema.safeParse(input);
    if (!parsed.success) throw new ForgeError('RECORD_FAILED', 'invalid approval', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
    const a = parsed.data;
    const { rows } = await this.db
      .query<{ id: string }>(
        `INSERT INTO approvals (repository, project, commit_sha, environment, approved_by, reason, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING id`,
        [a.repository, a.project, a.commit, a.environment, a.approvedBy, a.reason, Math.round(a.ttlHours * 3600)],
      )
      .catch((e: Error) => {
        if (/approvals_release/.test(e.message)) throw new ForgeError('RECORD_FAILED', `no release of ${a.repository}/${a.project} at ${a.commit} is recorded: nothing to approve`);
        throw e;
      });
    return (await this.byId(rows[0]!.id))!;
  }

  /** Revokes an approval (from now on it does not count); revoking one already revoked is refused. */
  async revoke(id: string, revokedBy: string, reason: string): Promise<Approval> {
    if (!reason.trim() || !revokedBy.trim()) throw new ForgeError('RECORD_FAILED', 'a revocation says who and why');
    const existing = await this.byId(id);
    if (!existing) throw new ForgeError('RECORD_FAILED', `no approval ${id}`);
    await this.db.query('INSERT INTO approval_revocations (approval_id, revoked_by, reason) VALUES ($1, $2, $3)', [id, revokedBy, reason.trim()]).catch((e: Error) => {
      if (/approval_revocations_pkey|duplicate key/.test(e.message)) throw new ForgeError('RECORD_FAILED', `approval ${id} was already revoked`);
      throw e;
    });
    return (await this.byId(id))!;
  }

  /** The newest approval that counts now for this release and environment, if any. */
  async active(repository: string, project: string, commit: string, environment: string): Promise<Approval | undefined> {
    const { rows } = await this.db.query<Row>(
      `${SELECT} WHERE a.repository = $1 AND a.project = $2 AND a.commit_sha = $3 AND a.environment = $4 AND r.approval_id IS NULL AND a.expires_at > now()
       ORDER BY a.approved_at DESC LIMIT 1`,
      [repository, project, commit, environment],
    );
    return rows[0] ? toApproval(rows[0]) : undefined;
  }

  /** Every approval of a release for an environment, newest first, with its status. */
  async list(repository: string, project: string, commit: string, environment: string): Promise<Approval[]> {
    const { rows } = await this.db.query<Row>(`${SELECT} WHERE a.repository = $1 AND a.project = $2 AND a.commit_sha = $3 AND a.environment = $4 ORDER BY a.approved_at DESC`, [repository, project, commit, environment]);
    return rows.map(toApproval);
  }

  private async byId(id: string): Promise<Approval | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    const { rows } = await this.db.query<Row>(`${SELECT} WHERE a.id = $1`, [id]);
    return rows[0] ? toApproval(rows[0]) : undefined;
  }
}
