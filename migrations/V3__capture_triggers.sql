-- Capture: one statement-level trigger per source table. The transition table
-- holds every inserted row, so a multi-row INSERT costs one trigger call and one
-- INSERT ... SELECT, and each row becomes its own event.
CREATE OR REPLACE FUNCTION ihf_capture() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ihf_outbox (event_type, data)
    SELECT TG_ARGV[0], to_jsonb(r) FROM ihf_new_rows r;
    -- Ring only when a worker is actually waiting (see ihf_waiters).
    IF EXISTS (SELECT 1 FROM ihf_waiters WHERE waiting_until > now()) THEN
        PERFORM pg_notify('ihf_events', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ihf_capture AFTER INSERT ON interaction_events
    REFERENCING NEW TABLE AS ihf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('interaction_event.created');
CREATE TRIGGER ihf_capture AFTER INSERT ON annotations
    REFERENCING NEW TABLE AS ihf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('annotation.created');
CREATE TRIGGER ihf_capture AFTER INSERT ON requirement_candidates
    REFERENCING NEW TABLE AS ihf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('requirement_candidate.created');
CREATE TRIGGER ihf_capture AFTER INSERT ON decision_records
    REFERENCING NEW TABLE AS ihf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('decision_record.created');
CREATE TRIGGER ihf_capture AFTER INSERT ON deployment_records
    REFERENCING NEW TABLE AS ihf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('deployment_record.created');
CREATE TRIGGER ihf_capture AFTER INSERT ON outcome_signals
    REFERENCING NEW TABLE AS ihf_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('outcome_signal.created');
