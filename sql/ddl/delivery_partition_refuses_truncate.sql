-- Statement triggers are not cloned onto partitions: each partition of the
-- delivery log refuses TRUNCATE itself, as the log does.
CREATE TRIGGER webhook_deliveries_no_truncate BEFORE TRUNCATE ON {partition}
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_no_truncate();
