-- Claim up to $1 due jobs for replica $3 and lease them for $2 milliseconds,
-- at most $4 in flight per subscription (counting every replica's leases), so
-- a slow or dead receiver cannot take every slot. One short statement: no
-- transaction stays open while the HTTP call runs. attempts is bumped here
-- and fences the finish (jobs_finish.sql).
WITH leased AS (
    SELECT subscription_id, count(*) AS n
      FROM ihf_jobs
     WHERE claimed_by IS NOT NULL AND run_at > now()
     GROUP BY subscription_id
), candidates AS (
    -- Subscriptions already at the cap are skipped here, so their backlog
    -- does not hide other subscriptions' due jobs.
    SELECT id, subscription_id, run_at FROM ihf_jobs
     WHERE run_at <= now()
       AND subscription_id NOT IN (SELECT subscription_id FROM leased WHERE n >= $4::bigint)
     ORDER BY run_at
     LIMIT $1::bigint * 4
       FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM (
        SELECT c.id, c.run_at,
               row_number() OVER (PARTITION BY c.subscription_id ORDER BY c.run_at)
                   + coalesce(l.n, 0) AS slot
          FROM candidates c LEFT JOIN leased l USING (subscription_id)
    ) ranked
     WHERE slot <= $4::bigint
     ORDER BY run_at
     LIMIT $1::bigint
)
UPDATE ihf_jobs j
   SET attempts = j.attempts + 1,
       run_at = now() + $2::bigint * interval '1 millisecond',
       claimed_by = $3
  FROM due, webhook_subscriptions s, api_consumers c
 WHERE j.id = due.id
   AND s.id = j.subscription_id
   AND c.id = s.api_consumer_id
RETURNING j.id, j.attempts, j.event_id, j.subscription_id, j.payload::text AS body,
          s.event_type, (j.payload->>'timestamp')::timestamptz AS occurred_at,
          s.target_url, s.secret,
          CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret,
          (s.is_active AND s.deleted_at IS NULL AND c.is_active) AS active
