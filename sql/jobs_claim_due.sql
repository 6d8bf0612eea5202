-- Claim up to $1 due jobs for replica $3 and lease them for $2 milliseconds.
-- One short statement: no transaction stays open while the HTTP call runs.
-- attempts is bumped here and fences the finish (jobs_finish.sql).
WITH due AS (
    SELECT id FROM ihf_jobs
     WHERE run_at <= now()
     ORDER BY run_at
     LIMIT $1
       FOR UPDATE SKIP LOCKED
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
          s.target_url, s.secret,
          CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret,
          (s.is_active AND s.deleted_at IS NULL AND c.is_active) AS active
