import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import type { Database, Queryable } from './db.ts';

/**
 * Release records (migration 005): one release per (repository, project, commit), numbered
 * without gaps per project in the transaction that records it, with its aliases — the number,
 * the git tag (`<project>/v*` under monorepo tagging) and `<branch>-<n>`. Looked up the way
 * people name releases: an alias, then a number, then a commit SHA prefix.
 */
export const releaseInputSchema = z.object({
  repository: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/, 'must be a repository path (letters, digits, . _ / -)'),
  project: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a project name'),
  commit: z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-character commit SHA'),
  trigger: z.enum(['branch', 'tag', 'manual']),
  tag: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}$/, 'must be a git tag name').optional(),
  branch: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/, 'must be a branch name').optional(),
});
export type ReleaseInput = z.infer<typeof releaseInputSchema>;

export interface Release {
  id: string;
  repository: string;
  project: string;
  commit: string;
  number: number;
  trigger: ReleaseInput['trigger'];
  aliases: { numeric: string; tag?: string; branch?: string };
  createdAt: Date;
}

interface Row {
  id: string;
  repository: string;
  project: string;
  commit_sha: string;
  number: number;
  trigger: ReleaseInput['trigger'];
  tag: string | null;
  branch: string | null;
  branch_number: number | null;
  created_at: Date;
}

const toRelease = (r: Row): Release => ({
  id: r.id, repository: r.repository, project: r.project, commit: r.commit_sha, number: Number(r.number), trigger: r.trigger,
  aliases: { numeric: String(r.number), ...(r.tag ? { tag: r.tag } : {}), ...(r.branch ? { branch: `${r.branch}-${r.branch_number}` } : {}) },
  createdAt: r.created_at,
});

export class ReleaseRecords {
  constructor(private readonly db: Database) {}

  /**
   * Records the release of `commit` (or finds it: `created: false`, the first record stands).
   * The number is the project's next; concurrent releases of one project take turns on a
   * transaction lock, so every number is used once and none is skipped. `publish` runs inside
   * that transaction for a new release (with its number): when it fails nothing is recorded and
   * the number stays free — no partial release.
   */
  async recordRelease(input: ReleaseInput, publish?: (release: Release) => Promise<void>): Promise<Release & { created: boolean }> {
    const parsed = releaseInputSchema.safeParse(input);
    if (!parsed.success) throw new ForgeError('RECORD_FAILED', 'invalid release record', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
    const r = parsed.data;
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`forge-release:${r.repository}:${r.project}`]);
      const existing = await byCommit(tx, r.repository, r.project, r.commit);
      if (existing) return { ...toRelease(existing), created: false };
      const { rows } = await tx.query<Row>(
        `INSERT INTO releases (repository, project, commit_sha, number, trigger, tag, branch, branch_number)
         SELECT $1, $2, $3,
                (SELECT coalesce(max(number), 0) + 1 FROM releases WHERE repository = $1 AND project = $2),
                $4, $5, $6::text,
                CASE WHEN $6::text IS NULL THEN NULL ELSE (SELECT coalesce(max(branch_number), 0) + 1 FROM releases WHERE repository = $1 AND project = $2 AND branch = $6::text) END
         RETURNING *`,
        [r.repository, r.project, r.commit, r.trigger, r.tag ?? null, r.branch ?? null],
      ).catch((e: Error) => {
        if (/releases_tag_key/.test(e.message)) throw new ForgeError('RECORD_FAILED', `tag ${r.tag} already names another release of ${r.repository}/${r.project}`);
        throw e;
      });
      const release = toRelease(rows[0]!);
      await publish?.(release);
      return { ...release, created: true };
    });
  }

  /**
   * The release `ref` names in a project: an alias (the tag, `<branch>-<n>`), else a number,
   * else a commit SHA prefix (at least 7 hex characters; one that fits two releases is an error
   * naming both).
   */
  async lookup(repository: string, project: string, ref: string): Promise<Release | undefined> {
    const alias = await this.db.query<Row>(
      "SELECT * FROM releases WHERE repository = $1 AND project = $2 AND (tag = $3 OR (branch IS NOT NULL AND branch || '-' || branch_number = $3))",
      [repository, project, ref],
    );
    if (alias.rows[0]) return toRelease(alias.rows[0]);
    if (/^[1-9][0-9]{0,8}$/.test(ref)) {
      const byNumber = await this.db.query<Row>('SELECT * FROM releases WHERE repository = $1 AND project = $2 AND number = $3', [repository, project, Number(ref)]);
      if (byNumber.rows[0]) return toRelease(byNumber.rows[0]);
    }
    if (!/^[0-9a-f]{7,40}$/.test(ref)) return undefined;
    const { rows } = await this.db.query<Row>('SELECT * FROM releases WHERE repository = $1 AND project = $2 AND starts_with(commit_sha, $3) ORDER BY number LIMIT 2', [repository, project, ref]);
    if (rows.length > 1) throw new ForgeError('RECORD_FAILED', `${ref} is the start of more than one release of ${repository}/${project} (${rows.map((x) => `${x.number}: ${x.commit_sha}`).join(', ')}): give more of the SHA`);
    return rows[0] ? toRelease(rows[0]) : undefined;
  }
}

async function byCommit(tx: Queryable, repository: string, project: string, commit: string): Promise<Row | undefined> {
  const { rows } = await tx.query<Row>('SELECT * FROM releases WHERE repository = $1 AND project = $2 AND commit_sha = $3', [repository, project, commit]);
  return rows[0];
}
