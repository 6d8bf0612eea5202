-- The operator's overview: a page of consumers in creation order after the
-- cursor position ($1, $2) when given, each with its limits, today's usage
-- (quota_used) and how its live subscriptions are doing: healthy (active, not
-- failing), failing (active, failing since some time), paused by the
-- consumer, disabled by the service (disabled_reason set). Deleted
-- subscriptions are not counted. $3: page size + 1 (to know if more exist).
SELECT c.id, c.name, c.description, c.rate_limit_per_minute, c.quota_per_day, c.quota_used,
       c.quota_resets_at, c.is_active, c.created_at, c.updated_at,
       count(s.id) AS subscriptions,
       count(s.id) FILTER (WHERE s.is_active AND s.failing_since IS NULL) AS healthy,
       count(s.id) FILTER (WHERE s.is_active AND s.failing_since IS NOT NULL) AS failing,
       count(s.id) FILTER (WHERE NOT s.is_active AND s.disabled_reason IS NULL) AS paused,
       count(s.id) FILTER (WHERE NOT s.is_active AND s.disabled_reason IS NOT NULL) AS disabled
  FROM api_consumers c
  LEFT JOIN webhook_subscriptions s ON s.api_consumer_id = c.id AND s.deleted_at IS NULL
 WHERE ($1::timestamptz IS NULL OR (c.created_at, c.id) > ($1, $2::uuid))
 GROUP BY c.id
 ORDER BY c.created_at, c.id
 LIMIT $3
