-- Claim up to $1 due jobs for replica $3 and lease them for $2 milliseconds,
-- taking from each subscription its oldest due jobs but never more than it
-- has room for under the cap of $4 attempts in flight on this replica ($5/$6:
-- subscriptions with attempts in flight here, and how many): a slow or dead
-- receiver cannot take every slot, and a saturated subscription's backlog
-- costs one index probe, not a scan. Due jobs are retries, expired leases and
-- what fan-out had no room to lease.
-- One short statement: no transaction stays open while the HTTP call runs.
-- attempts is bumped here and fences the finish (jobs_finish.sql).
WITH due AS (
    SELECT j.id
      FROM webhook_subscriptions s
      LEFT JOIN unnest($5::uuid[], $6::int[]) AS b(subscription_id, in_flight)
             ON b.subscription_id = s.id
     CROSS JOIN LATERAL (
        SELECT id FROM ihf_jobs
         WHERE subscription_id = s.id AND run_at <= now()
         ORDER BY run_at
         LIMIT greatest(0, $4::bigint - coalesce(b.in_flight, 0))
           FOR UPDATE SKIP LOCKED
     ) j
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
          (s.is_active AND s.deleted_at IS NULL AND c.is_active) AS active,
          s.headers
