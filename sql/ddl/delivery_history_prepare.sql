-- The delivery log's new indexes on its history, built CONCURRENTLY before
-- the migration attaches the table (see log_history_prepare.sql), and the old
-- ones they replace dropped the same way, so that the migration drops nothing
-- (a dropped index's file goes at commit, under the migration's locks).
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_history_event_idx
    ON webhook_deliveries (((payload->>'id')::uuid));
DROP INDEX CONCURRENTLY IF EXISTS webhook_deliveries_event_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_history_sub_idx
    ON webhook_deliveries (webhook_subscription_id, attempted_at);
DROP INDEX CONCURRENTLY IF EXISTS webhook_deliveries_sub_idx;
