-- forge-workflows records, migration 002: the audit trail is append-only.
--
-- UPDATE, DELETE and TRUNCATE of promotion_events are refused by the database itself, whichever
-- client tries. (A superuser can still drop the trigger; that is a visible, deliberate act.)

CREATE FUNCTION promotion_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'promotion_events is an append-only audit trail: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER promotion_events_no_update_delete
  BEFORE UPDATE OR DELETE ON promotion_events
  FOR EACH ROW EXECUTE FUNCTION promotion_events_append_only();

CREATE TRIGGER promotion_events_no_truncate
  BEFORE TRUNCATE ON promotion_events
  FOR EACH STATEMENT EXECUTE FUNCTION promotion_events_append_only();
