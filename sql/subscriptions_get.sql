-- One subscription of the calling consumer ($2), with its health; another
-- consumer's is not found. next_attempt_at: the soonest job waiting for its
-- turn (leased jobs are being attempted now).
SELECT s.id, s.event_type, s.target_url, s.is_active, s.disabled_reason, s.disabled_at,
       s.created_at, s.updated_at, s.headers,
       s.failing_since, h.last_success_at, h.last_failure_at, h.last_error,
       (SELECT min(j.run_at) FROM ihf_jobs j
         WHERE j.subscription_id = s.id AND j.claimed_by IS NULL) AS next_attempt_at
  FROM webhook_subscriptions s
  LEFT JOIN ihf_subscription_health h ON h.subscription_id = s.id
 WHERE s.id = $1 AND s.api_consumer_id = $2 AND s.deleted_at IS NULL
