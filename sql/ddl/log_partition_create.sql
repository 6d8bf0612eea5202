-- Partition upkeep: a new partition {partition} of the log {log} for
-- [{from}, {to}) ({from} is MINVALUE for the history partition). It is made as
-- a plain table and then attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the
-- log, which lets its inserts and reads go on (CREATE TABLE ... PARTITION OF
-- would take ACCESS EXCLUSIVE), and copies the log's indexes, foreign keys
-- and row triggers onto the new table, which is empty, so all of it is quick.
CREATE TABLE {partition} (LIKE {log} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
{before_attach}
ALTER TABLE {log} ATTACH PARTITION {partition} FOR VALUES FROM ({from}) TO ({to});
