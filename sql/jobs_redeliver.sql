-- Schedule event $3 again for subscription $1 of consumer $2, with the
-- envelope it was first sent with (same webhook-id), as a new delivery: its
-- 'pending' row carries the envelope (migrations/V15). The envelope is the
-- event's body row: the earliest row of (subscription, event) that has
-- 'data', or, before anything of the event is logged, its job's. $4: the time
-- the event id carries (UUIDv7), or the Unix epoch for an id that carries
-- none; the service's clock stamps the attempts, so rows are searched from an
-- hour before it. Rings the doorbell (a rare, deliberate action: its NOTIFY
-- costs nobody else anything worth saving).
-- Returns one row: scheduled, and logged (the log has rows of the event at
-- all; rows but neither a body row nor a job means the body is past the
-- log's retention).
WITH known AS (
    -- webhook_deliveries_event_idx serves this (migrations/V14).
    SELECT d.id, d.payload, d.attempted_at
      FROM webhook_deliveries d
      JOIN webhook_subscriptions s ON s.id = d.webhook_subscription_id
     WHERE d.webhook_subscription_id = $1
       AND s.api_consumer_id = $2
       AND s.deleted_at IS NULL
       AND (d.payload->>'id')::uuid = $3::uuid
       AND d.attempted_at >= $4::timestamptz - interval '1 hour'
), original AS (
    (SELECT payload FROM known WHERE payload ? 'data' ORDER BY attempted_at, id LIMIT 1)
    UNION ALL
    -- Nothing logged yet: the first attempt, leased at fan-out, is still in
    -- flight or its result not yet recorded. Its job holds the envelope.
    -- (Read only when the log has no body row.)
    (SELECT j.payload
       FROM ihf_jobs j
       JOIN webhook_subscriptions s ON s.id = j.subscription_id
      WHERE j.subscription_id = $1 AND j.event_id = $3
        AND s.api_consumer_id = $2 AND s.deleted_at IS NULL
      ORDER BY j.id LIMIT 1)
    LIMIT 1
), job AS (
    INSERT INTO ihf_jobs (subscription_id, event_id, payload)
    SELECT $1, $3, payload FROM original
    RETURNING subscription_id, payload
), logged AS (
    INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, error_message)
    SELECT subscription_id, payload, 'pending', 'scheduled: manual redelivery' FROM job
    RETURNING 1
), outcome AS (
    SELECT EXISTS (SELECT 1 FROM logged) AS scheduled, EXISTS (SELECT 1 FROM known) AS logged
)
SELECT scheduled, logged, CASE WHEN scheduled THEN pg_notify('ihf_events', '') END
  FROM outcome
