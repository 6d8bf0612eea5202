-- One subscription of the calling consumer ($2); another consumer's is not found.
SELECT id, event_type, target_url, is_active, disabled_reason, disabled_at, created_at, updated_at
  FROM webhook_subscriptions
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
