-- Queue subscription.disabled for subscriptions $1 that this transaction has
-- just deactivated (each deactivation is one UPDATE ... WHERE is_active, so
-- only one replica gets a given id back), with the reason and last error.
INSERT INTO ihf_operator_notifications (event_type, data)
SELECT 'subscription.disabled',
       ihf_operator_data(s.id, now())
       || jsonb_build_object('failing_since', ihf_rfc3339(s.failing_since),
                             'last_error', h.last_error,
                             'reason', s.disabled_reason)
  FROM webhook_subscriptions s
  LEFT JOIN ihf_subscription_health h ON h.subscription_id = s.id
 WHERE s.id = ANY($1::uuid[])
