-- Run by `migrate` on a log that is still a plain table, before the migration
-- that partitions it (migrations/V14__partitioned_logs.sql), one statement at
-- a time and outside any transaction: the unique index on (id, time) that
-- becomes the history's part of the log's primary key, built CONCURRENTLY,
-- and a CHECK constraint proving every row older than the history's bound
-- {bound}, validated (which also runs without blocking inserts). With both in place, attaching the table is catalog work.
-- The bound is also the constraint's comment, where the migration reads it.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {log}_history_id_{time_column}_key ON {log} (id, {time_column});
ALTER TABLE {log} DROP CONSTRAINT IF EXISTS {log}_history_bound;
ALTER TABLE {log} ADD CONSTRAINT {log}_history_bound CHECK ({time_column} < {bound}) NOT VALID;
COMMENT ON CONSTRAINT {log}_history_bound ON {log} IS {bound};
ALTER TABLE {log} VALIDATE CONSTRAINT {log}_history_bound;
