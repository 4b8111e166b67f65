-- forge-workflows records, migration 005: releases and their aliases.
--
-- One row per (repository, project, commit): recording a release again returns the first row.
-- The number is allocated in the transaction that records the release, under a lock per
-- (repository, project), so numbers have no gaps; the branch alias `<branch>-<n>` numbers the
-- releases of one branch the same way. Releases are immutable: UPDATE, DELETE and TRUNCATE are
-- refused by the database itself.

CREATE TABLE releases (
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  repository    text        NOT NULL CONSTRAINT releases_repository_format CHECK (repository ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$'),
  project       text        NOT NULL CONSTRAINT releases_project_format CHECK (project ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  commit_sha    text        NOT NULL CONSTRAINT releases_commit_format CHECK (commit_sha ~ '^[0-9a-f]{40}$'),
  number        integer     NOT NULL CONSTRAINT releases_number CHECK (number >= 1),
  trigger       text        NOT NULL CONSTRAINT releases_trigger CHECK (trigger IN ('branch', 'tag', 'manual')),
  tag           text        CONSTRAINT releases_tag_format CHECK (tag IS NULL OR tag ~ '^[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}$'),
  branch        text        CONSTRAINT releases_branch_format CHECK (branch IS NULL OR branch ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$'),
  branch_number integer     CONSTRAINT releases_branch_number CHECK (branch_number IS NULL OR branch_number >= 1),
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT releases_commit_key UNIQUE (repository, project, commit_sha),
  CONSTRAINT releases_number_key UNIQUE (repository, project, number),
  CONSTRAINT releases_tag_key UNIQUE (repository, project, tag),
  CONSTRAINT releases_branch_key UNIQUE (repository, project, branch, branch_number),
  CONSTRAINT releases_branch_pair CHECK ((branch IS NULL) = (branch_number IS NULL))
);

-- One guard for every append-only table from here on (releases, approvals, revocations).
CREATE FUNCTION forge_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER releases_no_update_delete BEFORE UPDATE OR DELETE ON releases FOR EACH ROW EXECUTE FUNCTION forge_append_only();
CREATE TRIGGER releases_no_truncate BEFORE TRUNCATE ON releases FOR EACH STATEMENT EXECUTE FUNCTION forge_append_only();
