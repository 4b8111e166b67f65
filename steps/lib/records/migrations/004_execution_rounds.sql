-- forge-workflows records, migration 004: rounds of a task execution.
--
-- A job that ended without success and is dispatched again (`argo retry` of the workflow) runs as
-- the job's next round; each round keeps its own row, so the failure that came first stays on
-- record. Within a round the row is still written once (a redelivery adds none).

ALTER TABLE step_executions DROP CONSTRAINT step_executions_job_id_fkey;
ALTER TABLE step_executions DROP CONSTRAINT step_executions_pkey;
ALTER TABLE task_executions DROP CONSTRAINT task_executions_pkey;

ALTER TABLE task_executions ADD COLUMN round integer NOT NULL DEFAULT 0 CONSTRAINT task_executions_round CHECK (round >= 0);
ALTER TABLE step_executions ADD COLUMN round integer NOT NULL DEFAULT 0;

ALTER TABLE task_executions ADD PRIMARY KEY (job_id, round);
ALTER TABLE step_executions ADD PRIMARY KEY (job_id, round, name);
ALTER TABLE step_executions ADD FOREIGN KEY (job_id, round) REFERENCES task_executions (job_id, round);
