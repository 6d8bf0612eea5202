-- Queue subscription.recovered for the subscriptions among $1 (those with a
-- success in this batch, after subscriptions_record_health.sql cleared their
-- failure clock) that had been notified as failing. Clearing the flag decides
-- the transition under the row lock, so it is queued once.
WITH cleared AS (
    UPDATE webhook_subscriptions
       SET failing_notified_at = NULL
     WHERE id = ANY($1::uuid[])
       AND failing_notified_at IS NOT NULL
       AND failing_since IS NULL
    RETURNING id
)
INSERT INTO ihf_operator_notifications (event_type, data)
SELECT 'subscription.recovered', ihf_operator_data(id, now())
  FROM cleared
