-- When the earliest job (retry or expired lease) becomes due: each
-- subscription's first job in run_at order, one probe each on the
-- (subscription_id, run_at) index.
SELECT min(j.run_at)
  FROM webhook_subscriptions s
 CROSS JOIN LATERAL (
    SELECT run_at FROM ihf_jobs WHERE subscription_id = s.id ORDER BY run_at LIMIT 1
 ) j
