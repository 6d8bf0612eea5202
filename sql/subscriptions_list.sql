-- A page of the calling consumer's subscriptions in creation order, after the
-- cursor position ($2, $3) when given. $4: page size + 1 (to know if more exist).
SELECT id, event_type, target_url, is_active, disabled_reason, disabled_at, created_at, updated_at, headers
  FROM webhook_subscriptions
 WHERE api_consumer_id = $1 AND deleted_at IS NULL
   AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
 ORDER BY created_at, id
 LIMIT $4
