-- Fan a batch of captured events out to every active subscription of an active
-- consumer for the event's type: one job and one 'pending' log row each.
-- $1: batch size. Returns how many events were taken and jobs created (an
-- event nobody subscribes to is taken and makes no job).
WITH taken AS (
    DELETE FROM ihf_outbox
     WHERE seq IN (SELECT seq FROM ihf_outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING event_id, event_type, data, occurred_at
), targets AS (
    SELECT t.event_id, s.id AS subscription_id,
           jsonb_build_object(
               'id', t.event_id,
               'type', t.event_type,
               'timestamp', to_char(t.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'data', t.data) AS payload
      FROM taken t
      JOIN webhook_subscriptions s ON s.event_type = t.event_type
                                  AND s.is_active AND s.deleted_at IS NULL
      JOIN api_consumers c ON c.id = s.api_consumer_id AND c.is_active
), jobs AS (
    INSERT INTO ihf_jobs (subscription_id, event_id, payload)
    SELECT subscription_id, event_id, payload FROM targets
    RETURNING subscription_id, payload
), logged AS (
    INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, error_message)
    SELECT subscription_id, payload, 'pending', 'scheduled: first attempt now'
      FROM jobs
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken) AS events, (SELECT count(*) FROM logged) AS jobs
