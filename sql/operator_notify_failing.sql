-- Queue subscription.failing for every active subscription that has failed
-- continuously for $1 milliseconds and was not notified for this streak.
-- The UPDATE decides the transition: a replica that waited for another's row
-- lock re-checks failing_notified_at and skips the row, so it is queued once.
-- Returns how many were queued.
WITH flagged AS (
    UPDATE webhook_subscriptions
       SET failing_notified_at = now()
     WHERE failing_since IS NOT NULL
       AND failing_notified_at IS NULL
       AND failing_since <= now() - $1::bigint * interval '1 millisecond'
       AND is_active AND deleted_at IS NULL
    RETURNING id, failing_since
), queued AS (
    INSERT INTO ihf_operator_notifications (event_type, data)
    SELECT 'subscription.failing',
           ihf_operator_data(f.id, now())
           || jsonb_build_object('failing_since', ihf_rfc3339(f.failing_since),
                                 'last_error', h.last_error)
      FROM flagged f
      LEFT JOIN ihf_subscription_health h ON h.subscription_id = f.id
    RETURNING 1
)
SELECT count(*) FROM queued
