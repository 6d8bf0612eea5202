-- The request log's consumer index, ascending, on its history: built
-- CONCURRENTLY before the migration attaches the table, and the seed's
-- descending one dropped the same way (see delivery_history_prepare.sql).
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_request_log_history_consumer_time_idx
    ON api_request_log (api_consumer_id, requested_at);
DROP INDEX CONCURRENTLY IF EXISTS api_request_log_consumer_time_idx;
