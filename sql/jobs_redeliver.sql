-- Schedule event $3 again for subscription $1 of consumer $2, with the envelope
-- it was first sent with (same webhook-id), and log the 'pending' row. Rings
-- the doorbell (a rare, deliberate action: its NOTIFY costs nobody else
-- anything worth saving). Returns nothing if the subscription never had that
-- event.
WITH original AS (
    SELECT d.payload
      FROM webhook_deliveries d
      JOIN webhook_subscriptions s ON s.id = d.webhook_subscription_id
     WHERE d.webhook_subscription_id = $1
       AND s.api_consumer_id = $2
       AND s.deleted_at IS NULL
       AND d.payload->>'id' = $3::text
     ORDER BY d.attempted_at DESC
     LIMIT 1
), job AS (
    INSERT INTO ihf_jobs (subscription_id, event_id, payload)
    SELECT $1, $3::text::uuid, payload FROM original
    RETURNING subscription_id, payload
), logged AS (
    INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, error_message)
    SELECT subscription_id, payload, 'pending', 'scheduled: manual redelivery' FROM job
    RETURNING 1
)
SELECT pg_notify('ihf_events', '') FROM logged
