-- forge-workflows records, migration 001: the promotion allowlist and its audit trail.
--
-- Applied by steps/lib/records/db.ts inside one transaction, under an advisory lock, and recorded
-- in schema_migrations with this file's sha256. Never edit this file once it has been applied
-- anywhere: add a new numbered migration instead (an edited file is refused on the next open).

-- The allowlist: one row per image digest promoted into a trusted repository. A row is written
-- only after the exact digest was copied into the trusted registry and the promotion attested;
-- promoting the same digest again keeps the first row (its id is what every caller gets back).
CREATE TABLE promotions (
  id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  trusted_repository text        NOT NULL
    CONSTRAINT promotions_trusted_repository_format
    CHECK (trusted_repository <> '' AND position('@' IN trusted_repository) = 0),
  digest             text        NOT NULL
    CONSTRAINT promotions_digest_format CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
  source_reference   text        NOT NULL,
  signer             jsonb       NOT NULL DEFAULT '{}'::jsonb,
  scan_summary       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  policy_results     jsonb       NOT NULL DEFAULT '[]'::jsonb,
  attestation_digest text
    CONSTRAINT promotions_attestation_digest_format
    CHECK (attestation_digest IS NULL OR attestation_digest ~ '^sha256:[0-9a-f]{64}$'),
  workflow_name      text,
  workflow_uid       text,
  promoted_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT promotions_trusted_repository_digest_key UNIQUE (trusted_repository, digest)
);

-- "Is this digest promoted anywhere?" (admission checks, audits) looks up by digest alone.
CREATE INDEX promotions_digest_idx ON promotions (digest);

-- The audit trail: every outcome of verify-and-promote, appended and never changed.
CREATE TABLE promotion_events (
  id                 bigserial   PRIMARY KEY,
  occurred_at        timestamptz NOT NULL DEFAULT now(),
  source_reference   text        NOT NULL,
  -- Null when the run failed before the digest was known.
  digest             text
    CONSTRAINT promotion_events_digest_format CHECK (digest IS NULL OR digest ~ '^sha256:[0-9a-f]{64}$'),
  trusted_repository text,
  outcome            text        NOT NULL
    CONSTRAINT promotion_events_outcome_check
    CHECK (outcome IN ('promoted', 'refused', 'failed', 'already-promoted')),
  -- The check that refused the image (signature, vulnerabilities, size, non-root, ...).
  check_name         text,
  message            text        NOT NULL,
  details            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  workflow_name      text,
  workflow_uid       text,
  -- The allowlist row a 'promoted' / 'already-promoted' event is about.
  promotion_id       uuid        REFERENCES promotions (id),
  CONSTRAINT promotion_events_promotion_outcome
    CHECK ((outcome IN ('promoted', 'already-promoted')) = (promotion_id IS NOT NULL))
);

CREATE INDEX promotion_events_digest_idx ON promotion_events (digest, id);
CREATE INDEX promotion_events_occurred_at_idx ON promotion_events (occurred_at);
