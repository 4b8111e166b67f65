-- forge-workflows records, migration 003: pipeline runs and the task and step executions of the
-- hot pools (the permanent half of the platform's dual persistence: Argo keeps the volatile state).
--
-- One row per job id, written by the worker that finished the job, before it acknowledges it: a
-- redelivered or re-dispatched job finds its row and adds none (INSERT … ON CONFLICT DO NOTHING).

CREATE TABLE pipeline_runs (
  run_id     text        PRIMARY KEY CONSTRAINT pipeline_runs_run_id_format CHECK (run_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  repository text        NOT NULL,
  commit_sha text        NOT NULL CONSTRAINT pipeline_runs_commit_format CHECK (commit_sha ~ '^[0-9a-f]{40}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE task_executions (
  job_id      text        PRIMARY KEY,
  run_id      text        NOT NULL REFERENCES pipeline_runs (run_id),
  task_id     text        NOT NULL,
  pool        text        NOT NULL CONSTRAINT task_executions_pool CHECK (pool IN ('discovery', 'ci', 'artifact', 'release')),
  kind        text        NOT NULL,
  status      text        NOT NULL CONSTRAINT task_executions_status CHECK (status IN ('succeeded', 'failed', 'cancelled', 'timed-out', 'error')),
  exit_code   integer     NOT NULL,
  message     text        NOT NULL,
  worker      text        NOT NULL,
  attempt     integer     NOT NULL CONSTRAINT task_executions_attempt CHECK (attempt >= 1),
  cache_hit   boolean,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT task_executions_job_id_format CHECK (job_id = run_id || '.' || task_id)
);
CREATE INDEX task_executions_run ON task_executions (run_id);

CREATE TABLE step_executions (
  job_id      text    NOT NULL REFERENCES task_executions (job_id),
  name        text    NOT NULL,
  stage       integer NOT NULL,
  status      text    NOT NULL CONSTRAINT step_executions_status CHECK (status IN ('succeeded', 'failed', 'cancelled', 'timed-out', 'skipped')),
  exit_code   integer,
  duration_ms integer NOT NULL CONSTRAINT step_executions_duration CHECK (duration_ms >= 0),
  PRIMARY KEY (job_id, name)
);
