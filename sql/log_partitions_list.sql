-- The partitions of log $1 (a table name) and their bounds; `starts` is NULL
-- for the history partition (FROM MINVALUE). The bounds are read back from
-- the catalog's text form, printed and parsed in the connection's settings.
SELECT c.relname::text AS name,
       (regexp_match(b.bound, 'FROM \(''([^'']*)''\)'))[1]::timestamptz AS starts,
       (regexp_match(b.bound, 'TO \(''([^'']*)''\)'))[1]::timestamptz AS ends
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
 CROSS JOIN LATERAL pg_get_expr(c.relpartbound, c.oid) AS b(bound)
 WHERE i.inhparent = $1::text::regclass
 ORDER BY starts NULLS FIRST
