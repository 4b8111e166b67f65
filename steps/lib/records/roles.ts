import { ForgeError } from '../errors.ts';
import type { Database, Queryable } from './db.ts';

/**
 * The runtime role: what the steps (`forge record`, `forge promote --database-url`) connect as.
 * The tables belong to the owner role that ran `forge records migrate`; the runtime role gets
 * exactly what recording needs and nothing else:
 *
 * - SELECT on the three tables (the schema check, the allowlist lookups, the event listing);
 * - INSERT on `promotions` and `promotion_events`, limited to the columns a step writes (ids and
 *   timestamps come from the database, so a step cannot backdate a row or choose its id);
 * - USAGE on the events' id sequence (nextval for a new event) and on the schema.
 *
 * Not UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER, not INSERT into `schema_migrations`, and
 * not ownership — so not `ALTER TABLE … DISABLE TRIGGER`, DROP or any DDL. PUBLIC loses its
 * default CREATE on the schema (PostgreSQL < 15 grants it) and any grant on the tables.
 */

/** What the runtime role may write, per table (in each table's column order, as the catalog lists them). */
export const RUNTIME_INSERT_COLUMNS = {
  promotions: ['trusted_repository', 'digest', 'source_reference', 'signer', 'scan_summary', 'policy_results', 'attestation_digest', 'workflow_name', 'workflow_uid'],
  promotion_events: ['source_reference', 'digest', 'trusted_repository', 'outcome', 'check_name', 'message', 'details', 'workflow_name', 'workflow_uid', 'promotion_id'],
  pipeline_runs: ['run_id', 'repository', 'commit_sha'],
  task_executions: ['job_id', 'run_id', 'task_id', 'pool', 'kind', 'status', 'exit_code', 'message', 'worker', 'attempt', 'cache_hit', 'started_at', 'finished_at', 'round'],
  step_executions: ['job_id', 'name', 'stage', 'status', 'exit_code', 'duration_ms', 'round'],
  releases: ['repository', 'project', 'commit_sha', 'number', 'trigger', 'tag', 'branch', 'branch_number'],
  // Not approved_at: the database's clock says when.
  approvals: ['repository', 'project', 'commit_sha', 'environment', 'approved_by', 'reason', 'expires_at'],
  approval_revocations: ['approval_id', 'revoked_by', 'reason'],
  // Not seq (an identity: no sequence grant needed) nor deployed_at: the database's clock says when.
  deployments: ['repository', 'project', 'release_id', 'environment', 'kind', 'previous_release_id', 'approval_id', 'pointer_commit', 'deployed_by'],
} as const;
const TABLES = ['schema_migrations', 'promotions', 'promotion_events', 'pipeline_runs', 'task_executions', 'step_executions', 'releases', 'approvals', 'approval_revocations', 'deployments'] as const;
/** The one sequence a step draws from (event ids). */
const SEQUENCE = 'promotion_events_id_seq';

/** A role name as PostgreSQL folds an unquoted one: the only form accepted, so quoting never matters. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface RuntimeGrants {
  role: string;
  /** The statements run, for the command's output. */
  statements: string[];
}

/**
 * Gives `role` the runtime privileges on the migrated schema, after revoking whatever it had
 * (running it again converges). Refuses a role that could undo the point of it: the owner itself,
 * a member of the owner, a superuser or a role that bypasses row security, or one that owns a
 * records table. Runs in one transaction, as the owner.
 */
export async function grantRuntimeRole(db: Database, role: string): Promise<RuntimeGrants> {
  checkRoleName(db, role);
  return db.transaction(async (tx) => {
    await refuseUnsafeRole(tx, db.location, role);
    const statements = [
      'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
      `REVOKE ALL ON ${TABLES.join(', ')} FROM PUBLIC, ${role}`,
      `REVOKE ALL ON SEQUENCE ${SEQUENCE} FROM PUBLIC, ${role}`,
      `GRANT USAGE ON SCHEMA public TO ${role}`,
      `GRANT SELECT ON ${TABLES.join(', ')} TO ${role}`,
      ...Object.entries(RUNTIME_INSERT_COLUMNS).map(([table, columns]) => `GRANT INSERT (${columns.join(', ')}) ON ${table} TO ${role}`),
      `GRANT USAGE ON SEQUENCE ${SEQUENCE} TO ${role}`,
    ];
    for (const sql of statements) await tx.exec(sql);
    return { role, statements };
  });
}

/**
 * The same refusals as {@link grantRuntimeRole}, without changing anything: `forge records
 * migrate` runs it before migrating, so a role that cannot be made safe stops it first.
 */
export async function checkRuntimeRole(db: Database, role: string): Promise<void> {
  checkRoleName(db, role);
  await refuseUnsafeRole(db, db.location, role);
}

function checkRoleName(db: Database, role: string): void {
  if (!ROLE_NAME.test(role)) {
    throw new ForgeError('INVALID_ARGS', `--runtime-role ${JSON.stringify(role)} is not a plain role name: lowercase letters, digits and _, starting with a letter or _`);
  }
  if (db.kind !== 'postgres') throw new ForgeError('INVALID_ARGS', '--runtime-role needs a PostgreSQL server (--database-url): PGlite has a single user');
}

async function refuseUnsafeRole(tx: Queryable, location: string, role: string): Promise<void> {
  const { rows } = await tx.query<{ super: boolean; bypassrls: boolean; owner: boolean; member: boolean; owns: string | null }>(
    `SELECT r.rolsuper AS super, r.rolbypassrls AS bypassrls, r.rolname = current_user AS owner,
            pg_has_role(r.rolname, current_user, 'MEMBER') AS member,
            (SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c
              WHERE c.relowner = r.oid AND c.relnamespace = 'public'::regnamespace AND c.relname = ANY($2)) AS owns
       FROM pg_roles r WHERE r.rolname = $1`,
    [role, [...TABLES, SEQUENCE]],
  );
  const r = rows[0];
  const refuse = (why: string) => new ForgeError('INVALID_ARGS', `--runtime-role ${role} on ${location}: ${why}`);
  if (!r) throw refuse(`no such role: create it first (CREATE ROLE ${role} LOGIN PASSWORD '…'), then run this again`);
  // Superuser first: a superuser is a member of every role.
  if (r.super || r.bypassrls) throw refuse('it is a superuser or bypasses row security, so no grant can hold it: use a plain LOGIN role');
  if (r.owner || r.member) throw refuse('it is (or is a member of) the role running the migration, which owns the tables: the steps need a role of their own');
  if (r.owns) throw refuse(`it owns ${r.owns}: give the tables to the owner first (ALTER TABLE … OWNER TO the owner role), then run this again`);
}
