-- Re-queue every event of subscription $1 captured in [$2, $3) ($3 NULL: up
-- to now) whose last logged state is 'failed' and that has no job left (so
-- no retry is coming): each with the envelope of its body row (the earliest
-- row that carries the body: later rows of a delivery carry only
-- {"id", "type", "timestamp"}, migrations/V15) and so its original
-- webhook-id, and a 'pending' row that carries the envelope, as a new
-- delivery does. An event whose body row is gone (past the log's retention)
-- is skipped. Attempt times come from the service's clock, so rows are read
-- from an hour before $2. Run after subscriptions_lock.sql in the same
-- transaction: an event already re-queued has a job and a newer 'pending'
-- row, so a repeated call adds nothing. run_at steps by a microsecond in
-- capture order, which the claim follows. Rings the doorbell. Returns how
-- many were queued.
WITH rows AS (
    SELECT (d.payload->>'id')::uuid AS event_id, d.id, d.status, d.attempted_at, d.payload
      FROM webhook_deliveries d
     WHERE d.webhook_subscription_id = $1
       AND d.attempted_at >= $2::timestamptz - interval '1 hour'
), last AS (
    SELECT DISTINCT ON (event_id) event_id, status
      FROM rows
     ORDER BY event_id, attempted_at DESC, status = 'pending' DESC
), first AS (
    SELECT DISTINCT ON (event_id) event_id, payload
      FROM rows
     WHERE payload ? 'data'
     ORDER BY event_id, attempted_at, id
), chosen AS (
    SELECT f.event_id, f.payload,
           row_number() OVER (ORDER BY f.payload->>'timestamp', f.event_id) AS n,
           count(*) OVER () AS total
      FROM first f
      JOIN last l USING (event_id)
     WHERE l.status = 'failed'
       AND (f.payload->>'timestamp')::timestamptz >= $2
       AND ($3::timestamptz IS NULL OR (f.payload->>'timestamp')::timestamptz < $3)
       AND NOT EXISTS (SELECT 1 FROM ihf_jobs j
                        WHERE j.subscription_id = $1 AND j.event_id = f.event_id)
), job AS (
    INSERT INTO ihf_jobs (subscription_id, event_id, payload, run_at)
    SELECT $1, event_id, payload, now() - (total - n) * interval '1 microsecond'
      FROM chosen
     ORDER BY n
    RETURNING subscription_id, payload
), logged AS (
    INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, error_message)
    SELECT subscription_id, payload, 'pending', 'scheduled: recovered' FROM job
    RETURNING 1
), queued AS (
    SELECT count(*) AS n FROM logged
)
SELECT n, CASE WHEN n > 0 THEN pg_notify('ihf_events', '') END FROM queued
