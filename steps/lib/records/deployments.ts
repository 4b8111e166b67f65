import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import type { Database } from './db.ts';

/**
 * Deployment records (migration 007): which release went to which environment, who deployed it
 * and when (the database's clock), whether it was a rollback, the release it replaced, the
 * approval it went on and the GitOps pointer commit. Append-only: an environment's history is
 * read back newest first, never rewritten.
 */
export const deploymentInputSchema = z.object({
  repository: z.string().min(1).max(255),
  project: z.string().min(1).max(63),
  releaseId: z.uuid(),
  environment: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be an environment name'),
  kind: z.enum(['deploy', 'rollback']),
  previousReleaseId: z.uuid().optional(),
  approvalId: z.uuid().optional(),
  /** The pointer commit; absent when the pointer already named this release. */
  pointerCommit: z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a git commit SHA').optional(),
  deployedBy: z.string().min(1).max(255),
});
export type DeploymentInput = z.input<typeof deploymentInputSchema>;

export interface Deployment {
  id: string;
  repository: string;
  project: string;
  environment: string;
  kind: 'deploy' | 'rollback';
  /** The release deployed (its number and commit, for people and for the pointer). */
  release: { id: string; number: number; commit: string };
  previous?: { id: string; number: number; commit: string };
  approvalId?: string;
  pointerCommit?: string;
  deployedBy: string;
  deployedAt: Date;
}

interface Row {
  id: string;
  repository: string;
  project: string;
  environment: string;
  kind: 'deploy' | 'rollback';
  release_id: string;
  release_number: number;
  release_commit: string;
  previous_release_id: string | null;
  previous_number: number | null;
  previous_commit: string | null;
  approval_id: string | null;
  pointer_commit: string | null;
  deployed_by: string;
  deployed_at: Date;
}

const SELECT = `SELECT d.id, d.repository, d.project, d.environment, d.kind, d.release_id, r.number AS release_number, r.commit_sha AS release_commit,
       d.previous_release_id, p.number AS previous_number, p.commit_sha AS previous_commit, d.approval_id, d.pointer_commit, d.deployed_by, d.deployed_at
  FROM deployments d JOIN releases r ON r.id = d.release_id LEFT JOIN releases p ON p.id = d.previous_release_id`;

const toDeployment = (r: Row): Deployment => ({
  id: r.id,
  repository: r.repository,
  project: r.project,
  environment: r.environment,
  kind: r.kind,
  release: { id: r.release_id, number: Number(r.release_number), commit: r.release_commit },
  ...(r.previous_release_id ? { previous: { id: r.previous_release_id, number: Number(r.previous_number), commit: r.previous_commit! } } : {}),
  ...(r.approval_id ? { approvalId: r.approval_id } : {}),
  ...(r.pointer_commit ? { pointerCommit: r.pointer_commit } : {}),
  deployedBy: r.deployed_by,
  deployedAt: r.deployed_at,
});

export class DeploymentRecords {
  constructor(private readonly db: Database) {}

  /** Records one deployment; the release (and the previous one) must be recorded releases of that project. */
  async record(input: DeploymentInput): Promise<Deployment> {
    const parsed = deploymentInputSchema.safeParse(input);
    if (!parsed.success) throw new ForgeError('RECORD_FAILED', 'invalid deployment record', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
    const d = parsed.data;
    const { rows } = await this.db
      .query<{ id: string }>(
        `INSERT INTO deployments (repository, project, release_id, environment, kind, previous_release_id, approval_id, pointer_commit, deployed_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [d.repository, d.project, d.releaseId, d.environment, d.kind, d.previousReleaseId ?? null, d.approvalId ?? null, d.pointerCommit ?? null, d.deployedBy],
      )
      .catch((e: Error) => {
        if (/deployments_previous_release/.test(e.message)) throw new ForgeError('RECORD_FAILED', `release ${d.previousReleaseId} is not a recorded release of ${d.repository}/${d.project}`);
        if (/deployments_release/.test(e.message)) throw new ForgeError('RECORD_FAILED', `release ${d.releaseId} is not a recorded release of ${d.repository}/${d.project}`);
        if (/deployments_approval/.test(e.message)) throw new ForgeError('RECORD_FAILED', `approval ${d.approvalId} is not an approval of release ${d.releaseId} for ${d.environment}`);
        throw e;
      });
    const { rows: out } = await this.db.query<Row>(`${SELECT} WHERE d.id = $1`, [rows[0]!.id]);
    return toDeployment(out[0]!);
  }

  /** What is deployed now: the newest deployment of the project to the environment. */
  async latest(environment: string, repository: string, project: string): Promise<Deployment | undefined> {
    return (await this.history(environment, repository, project, 1))[0];
  }

  /** The deployments of the project to the environment, newest first. */
  async history(environment: string, repository: string, project: string, limit = 100): Promise<Deployment[]> {
    const { rows } = await this.db.query<Row>(`${SELECT} WHERE d.environment = $1 AND d.repository = $2 AND d.project = $3 ORDER BY d.seq DESC LIMIT $4`, [
      environment,
      repository,
      project,
      Math.max(1, Math.min(1000, Math.floor(limit))),
    ]);
    return rows.map(toDeployment);
  }

  /**
   * Runs `fn` while no other deployment of this project to this environment runs (through this
   * database), so "the release it replaced" is never read by two deployments at once.
   */
  serialize<T>(environment: string, repository: string, project: string, fn: () => Promise<T>): Promise<T> {
    return this.db.withLock(`forge-deploy:${environment}:${repository}:${project}`, fn);
  }
}
