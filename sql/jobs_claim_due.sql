-- Claim up to $1 due jobs for replica $3 and lease them for $2 milliseconds.
-- Only waiting jobs (claimed_by NULL: overflow from fan-out, retries, released
-- or expired leases, redeliveries) are looked at, through the partial index
-- ihf_jobs_waiting_idx: the subscriptions that have any are found by skipping
-- through it from a point on a ring ($8, drawn at random per claim, so no
-- subscription is always first), one probe each, and stop as soon as $1 jobs
-- are found. Idle subscriptions and jobs in flight cost nothing.
-- Each subscription gives its oldest due jobs, at most its room under the cap
-- of $4 jobs leased per subscription to this replica and $6 per consumer
-- (in flight or on deck, src/delivery/in_flight.rs; $5/$7: JSON objects
-- id → jobs leased here, for those that have any). A subscription's room is exact; a consumer's is checked per
-- subscription, so several of its subscriptions in one claim can overshoot:
-- the dispatcher releases the excess before starting anything
-- (sql/jobs_release.sql). A hanging receiver's backlog costs one probe.
-- One short statement: no transaction stays open while the HTTP call runs.
-- attempts is bumped here and fences the finish (jobs_finish.sql), which
-- also learns from envelope_logged whether the attempt's log row carries the
-- envelope (migrations/V15).
WITH RECURSIVE ring(id, lap) AS (
    SELECT $8::uuid, 0
  UNION ALL
    SELECT n.id, n.lap
      FROM ring r
     CROSS JOIN LATERAL (
        (SELECT w.subscription_id AS id, greatest(r.lap, 1) AS lap
           FROM ihf_jobs w
          WHERE w.claimed_by IS NULL AND w.subscription_id > r.id
          ORDER BY w.subscription_id LIMIT 1)
        UNION ALL
        -- Past the end: wrap around once, up to the starting point.
        (SELECT w.subscription_id, 2
           FROM ihf_jobs w
          WHERE w.claimed_by IS NULL AND r.lap < 2
          ORDER BY w.subscription_id LIMIT 1)
        LIMIT 1
     ) n
     WHERE n.lap = 1 OR n.id <= $8::uuid
), due AS (
    -- Scalar subqueries and laterals keep this a nested loop driven by the
    -- ring, so the LIMIT stops the walk.
    SELECT j.id
      FROM ring r
     CROSS JOIN LATERAL (
        SELECT w.id FROM ihf_jobs w
         WHERE w.subscription_id = r.id AND w.claimed_by IS NULL AND w.run_at <= now()
         ORDER BY w.run_at
         LIMIT greatest(0, least(
                   $4::bigint - coalesce(($5::jsonb ->> r.id::text)::bigint, 0),
                   $6::bigint - coalesce(($7::jsonb ->> (SELECT s.api_consumer_id::text
                                                            FROM webhook_subscriptions s
                                                           WHERE s.id = r.id))::bigint, 0)))
           FOR UPDATE SKIP LOCKED
     ) j
     WHERE r.lap > 0
     LIMIT $1::bigint
)
UPDATE ihf_jobs j
   SET attempts = j.attempts + 1,
       run_at = now() + $2::bigint * interval '1 millisecond',
       claimed_by = $3
  FROM webhook_subscriptions s, api_consumers c
 WHERE j.id = ANY (ARRAY(SELECT id FROM due))
   AND s.id = j.subscription_id
   AND c.id = s.api_consumer_id
RETURNING j.id, j.attempts, j.event_id, j.subscription_id, s.api_consumer_id AS consumer_id,
          j.payload::text AS body, j.envelope_logged,
          s.event_type, (j.payload->>'timestamp')::timestamptz AS occurred_at,
          s.target_url, s.secret,
          CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret,
          (s.is_active AND s.deleted_at IS NULL AND c.is_active) AS active,
          s.headers
