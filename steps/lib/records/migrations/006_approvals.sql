-- forge-workflows records, migration 006: approvals of deployments to protected environments.
--
-- An approval names who approved which release for which environment, why, when (the database's
-- clock: approved_at is never given by a client) and until when (at most 30 days later). A
-- revocation is a row of its own. Both tables are append-only: what was approved stays on record.

CREATE TABLE approvals (
  id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  repository  text        NOT NULL,
  project     text        NOT NULL,
  commit_sha  text        NOT NULL,
  environment text        NOT NULL CONSTRAINT approvals_environment_format CHECK (environment ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  approved_by text        NOT NULL CONSTRAINT approvals_approved_by CHECK (approved_by <> '' AND length(approved_by) <= 255),
  reason      text        NOT NULL CONSTRAINT approvals_reason CHECK (reason <> '' AND length(reason) <= 1000),
  approved_at timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  CONSTRAINT approvals_expiry CHECK (expires_at > approved_at AND expires_at <= approved_at + interval '30 days'),
  CONSTRAINT approvals_release FOREIGN KEY (repository, project, commit_sha) REFERENCES releases (repository, project, commit_sha)
);
CREATE INDEX approvals_release_environment ON approvals (repository, project, commit_sha, environment);

CREATE TABLE approval_revocations (
  approval_id uuid        PRIMARY KEY REFERENCES approvals (id),
  revoked_by  text        NOT NULL CONSTRAINT approval_revocations_revoked_by CHECK (revoked_by <> '' AND length(revoked_by) <= 255),
  reason      text        NOT NULL CONSTRAINT approval_revocations_reason CHECK (reason <> '' AND length(reason) <= 1000),
  revoked_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER approvals_no_update_delete BEFORE UPDATE OR DELETE ON approvals FOR EACH ROW EXECUTE FUNCTION forge_append_only();
CREATE TRIGGER approvals_no_truncate BEFORE TRUNCATE ON approvals FOR EACH STATEMENT EXECUTE FUNCTION forge_append_only();
CREATE TRIGGER approval_revocations_no_update_delete BEFORE UPDATE OR DELETE ON approval_revocations FOR EACH ROW EXECUTE FUNCTION forge_append_only();
CREATE TRIGGER approval_revocations_no_truncate BEFORE TRUNCATE ON approval_revocations FOR EACH STATEMENT EXECUTE FUNCTION forge_append_only();
