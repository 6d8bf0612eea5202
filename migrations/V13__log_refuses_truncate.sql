-- The delivery log is append-only: the seed's row triggers refuse UPDATE and
-- DELETE, but TRUNCATE fires no row trigger and would empty it in one
-- statement. A statement-level trigger refuses that too. (An owner can still
-- drop the trigger on purpose; this guards against mistakes, not the owner.)
CREATE FUNCTION webhook_deliveries_no_truncate() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'webhook_deliveries is append-only: TRUNCATE is refused';
END;
$$;

CREATE TRIGGER webhook_deliveries_no_truncate BEFORE TRUNCATE ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_no_truncate();
