-- The two logs, webhook_deliveries and api_request_log, become partitioned by
-- time (declarative partitioning: PostgreSQL 13 or later, no extension), so
-- that retention drops whole partitions instead of deleting rows, which the
-- delivery log refuses. Partitions ahead of time are made by the service
-- (partition upkeep, `ihf-webhooks maintain`); this migration makes the
-- partitioned tables and keeps every existing row by attaching each old table
-- whole as its log's history partition (FROM MINVALUE), without rewriting it.
--
-- `ihf-webhooks migrate` prepares each old table before this runs, outside any
-- transaction and without blocking its inserts: the new primary-key and event
-- indexes built CONCURRENTLY, and a CHECK constraint on the time column
-- (`<log>_history_bound`, its bound also in its comment) validated. So every
-- statement below is catalog work on an already-indexed, already-checked
-- table, and the locks last milliseconds however many rows the log holds (the
-- README's upgrade notes give the measurements). Run by other means, the
-- indexes are built here and ATTACH scans the table under lock.
--
-- PostgreSQL requires the partition key in every unique constraint: the
-- seed's primary key on id becomes (id, attempted_at) / (id, requested_at).

-- The old delivery log becomes webhook_deliveries_history. Nothing is dropped
-- here (a dropped index's file is removed at commit, in time that grows with
-- its size): the old text event index went CONCURRENTLY in the preparation,
-- and the old primary key on id stays, renamed, on the history alone.
ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_history;
ALTER INDEX webhook_deliveries_pkey RENAME TO webhook_deliveries_history_pkey;
-- The seed's (subscription, attempted_at DESC) is replaced by an ascending one,
-- built and the old dropped CONCURRENTLY beforehand (see the index below).
DROP INDEX IF EXISTS webhook_deliveries_sub_idx;
CREATE INDEX IF NOT EXISTS webhook_deliveries_history_sub_idx
    ON webhook_deliveries_history (webhook_subscription_id, attempted_at);
-- (subscription, payload->>'id' as text) is replaced by the event id as a uuid:
-- 16 bytes a row instead of ~52, and it serves the same lookups.
DROP INDEX IF EXISTS webhook_deliveries_event_idx;
CREATE UNIQUE INDEX IF NOT EXISTS webhook_deliveries_history_id_attempted_at_key
    ON webhook_deliveries_history (id, attempted_at);
-- The history's part of the log's primary key.
ALTER TABLE webhook_deliveries_history
    ADD CONSTRAINT webhook_deliveries_history_id_attempted_at_key
    UNIQUE USING INDEX webhook_deliveries_history_id_attempted_at_key;
CREATE INDEX IF NOT EXISTS webhook_deliveries_history_event_idx
    ON webhook_deliveries_history (((payload->>'id')::uuid));
-- The parent's row triggers are cloned onto every partition, this one included.
DROP TRIGGER webhook_deliveries_no_update ON webhook_deliveries_history;
DROP TRIGGER webhook_deliveries_no_delete ON webhook_deliveries_history;

-- The seed's columns, as written.
CREATE TABLE webhook_deliveries (
    id UUID DEFAULT uuid_generate_v4() NOT NULL,
    webhook_subscription_id UUID NOT NULL
        CONSTRAINT webhook_deliveries_webhook_subscription_id_fkey REFERENCES webhook_subscriptions(id),
    payload JSONB NOT NULL,
    attempted_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
    -- Named as the seed's was, which ATTACH matches on the history.
    status TEXT NOT NULL
        CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
    response_code INTEGER,
    latency_ms INTEGER,
    error_message TEXT,
    PRIMARY KEY (id, attempted_at) WITH (fillfactor = 100)
) PARTITION BY RANGE (attempted_at);
-- The log's indexes take keys that grow with time (attempt rows get
-- time-ordered ids, event ids are UUIDv7), and a row is never updated, so
-- their pages are filled whole (fillfactor 100, not btree's default 90).
-- A subscription's rows by time: listing (read backwards), stats, recovery,
-- and whether a deleted subscription still has rows. Ascending, unlike the
-- seed's DESC: a new row is then the last of its subscription's run of keys,
-- and btree splits a page after it, leaving the page full; at the front of
-- the run (DESC) every split is half and half, and pages stay half empty.
CREATE INDEX webhook_deliveries_sub_idx ON webhook_deliveries (webhook_subscription_id, attempted_at)
    WITH (fillfactor = 100);
-- An event's rows: redelivery, and the body row of a listed compact row.
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (((payload->>'id')::uuid))
    WITH (fillfactor = 100);
CREATE TRIGGER webhook_deliveries_no_update BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION webhook_deliveries_no_update();
CREATE TRIGGER webhook_deliveries_no_delete BEFORE DELETE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION webhook_deliveries_no_delete();
-- Statement triggers are not cloned: upkeep adds this one to every partition
-- it makes, and the history keeps its own.
CREATE TRIGGER webhook_deliveries_no_truncate BEFORE TRUNCATE ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_no_truncate();

-- The old request log becomes api_request_log_history, the same way.
ALTER TABLE api_request_log RENAME TO api_request_log_history;
ALTER INDEX api_request_log_pkey RENAME TO api_request_log_history_pkey;
DROP INDEX IF EXISTS api_request_log_consumer_time_idx;
CREATE INDEX IF NOT EXISTS api_request_log_history_consumer_time_idx
    ON api_request_log_history (api_consumer_id, requested_at);
CREATE UNIQUE INDEX IF NOT EXISTS api_request_log_history_id_requested_at_key
    ON api_request_log_history (id, requested_at);
ALTER TABLE api_request_log_history
    ADD CONSTRAINT api_request_log_history_id_requested_at_key
    UNIQUE USING INDEX api_request_log_history_id_requested_at_key;

CREATE TABLE api_request_log (
    id UUID DEFAULT uuid_generate_v4() NOT NULL,
    api_consumer_id UUID CONSTRAINT api_request_log_api_consumer_id_fkey REFERENCES api_consumers(id),
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    latency_ms INTEGER,
    requested_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,
    PRIMARY KEY (id, requested_at) WITH (fillfactor = 100)
) PARTITION BY RANGE (requested_at);
-- A consumer's requests by time: usage and the request-log listing.
-- Ascending and full, as the delivery log's.
CREATE INDEX api_request_log_consumer_time_idx ON api_request_log (api_consumer_id, requested_at)
    WITH (fillfactor = 100);

-- Attach each history up to the bound `migrate` validated (a whole minute a
-- little ahead, so an older replica still writing during the upgrade stays
-- inside it); unprepared, up to the next minute after its newest row.
DO $$
DECLARE
    log record;
    bound timestamptz;
BEGIN
    FOR log IN SELECT * FROM (VALUES ('webhook_deliveries', 'attempted_at'),
                                     ('api_request_log', 'requested_at')) AS l(name, time_column)
    LOOP
        SELECT obj_description(c.oid, 'pg_constraint')::timestamptz INTO bound
          FROM pg_constraint c
         WHERE c.conrelid = (log.name || '_history')::regclass
           AND c.conname = log.name || '_history_bound';
        IF bound IS NULL THEN
            EXECUTE format('SELECT date_trunc(''minute'', greatest(now(), max(%I))) + interval ''1 minute'' FROM %I',
                           log.time_column, log.name || '_history')
               INTO bound;
        END IF;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                       log.name, log.name || '_history', bound);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I',
                       log.name || '_history', log.name || '_history_bound');
    END LOOP;
END;
$$;
