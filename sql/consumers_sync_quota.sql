-- One replica's sync of the daily quota: adds what it admitted since its last
-- sync ($3) for the quota window it counted in ($2, that window's end) to each
-- consumer ($1), and returns the count, window and limits every replica should
-- now use. A window that has ended starts over at 0 and ends at the next UTC
-- midnight; a count made in a window that has since ended is dropped.
WITH d AS (
    SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS d(id, window_end, delta)
)
UPDATE api_consumers c
   SET quota_used = CASE
           WHEN c.quota_resets_at > now() THEN
               c.quota_used + CASE WHEN d.window_end = c.quota_resets_at THEN d.delta ELSE 0 END
           ELSE CASE WHEN d.window_end > now() THEN d.delta ELSE 0 END
       END,
       quota_resets_at = CASE
           WHEN c.quota_resets_at > now() THEN c.quota_resets_at
           ELSE (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'
       END
  FROM d
 WHERE c.id = d.id
RETURNING c.id, c.quota_used, c.quota_resets_at, c.rate_limit_per_minute, c.quota_per_day, c.is_active
