-- forge-workflows records, migration 007: deployments of releases to environments.
--
-- One row per deployment (a rollback is a deployment too: a forward deployment of an older
-- release), saying which release went to which environment, who deployed it and when (the
-- database's clock), the release it replaced, the approval it went on (protected environments)
-- and the GitOps pointer commit (NULL when the pointer already named the release). Append-only,
-- like releases and approvals: the history of an environment is never rewritten.

-- So that a deployment's release and the release it replaced are releases of its own project.
ALTER TABLE releases ADD CONSTRAINT releases_id_project_key UNIQUE (id, repository, project);

CREATE TABLE deployments (
  id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Orders the deployments of an environment (two can share a deployed_at); no sequence grant needed.
  seq                 bigint      GENERATED ALWAYS AS IDENTITY CONSTRAINT deployments_seq_key UNIQUE,
  repository          text        NOT NULL,
  project             text        NOT NULL,
  release_id          uuid        NOT NULL,
  environment         text        NOT NULL CONSTRAINT deployments_environment_format CHECK (environment ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  kind                text        NOT NULL CONSTRAINT deployments_kind CHECK (kind IN ('deploy', 'rollback')),
  previous_release_id uuid,
  approval_id         uuid        CONSTRAINT deployments_approval REFERENCES approvals (id),
  pointer_commit      text        CONSTRAINT deployments_pointer_commit_format CHECK (pointer_commit IS NULL OR pointer_commit ~ '^([0-9a-f]{40}|[0-9a-f]{64})$'),
  deployed_by         text        NOT NULL CONSTRAINT deployments_deployed_by CHECK (deployed_by <> '' AND length(deployed_by) <= 255),
  deployed_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT deployments_release FOREIGN KEY (release_id, repository, project) REFERENCES releases (id, repository, project),
  CONSTRAINT deployments_previous_release FOREIGN KEY (previous_release_id, repository, project) REFERENCES releases (id, repository, project)
);
CREATE INDEX deployments_environment_project ON deployments (environment, repository, project, seq DESC);

-- An approval a deployment names must be one of that release for that environment.
CREATE FUNCTION forge_deployment_approval() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.approval_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM approvals a JOIN releases r ON r.repository = a.repository AND r.project = a.project AND r.commit_sha = a.commit_sha
     WHERE a.id = NEW.approval_id AND r.id = NEW.release_id AND a.environment = NEW.environment
  ) THEN
    RAISE EXCEPTION 'deployments_approval_release: approval % is not an approval of this release for %', NEW.approval_id, NEW.environment
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER deployments_approval_matches BEFORE INSERT ON deployments FOR EACH ROW EXECUTE FUNCTION forge_deployment_approval();
CREATE TRIGGER deployments_no_update_delete BEFORE UPDATE OR DELETE ON deployments FOR EACH ROW EXECUTE FUNCTION forge_append_only();
CREATE TRIGGER deployments_no_truncate BEFORE TRUNCATE ON deployments FOR EACH STATEMENT EXECUTE FUNCTION forge_append_only();
