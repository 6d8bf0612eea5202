-- The delivery log's event index on its history, built CONCURRENTLY before
-- the migration attaches the table (see log_history_prepare.sql), and the old
-- one it replaces dropped the same way, so that the migration drops nothing.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_history_event_idx
    ON webhook_deliveries (((payload->>'id')::uuid));
DROP INDEX CONCURRENTLY IF EXISTS webhook_deliveries_event_idx;
