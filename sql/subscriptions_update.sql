-- Change target_url and/or is_active (NULL: keep). Reactivating clears the
-- reason it was deactivated and restarts the failure clock.
UPDATE webhook_subscriptions
   SET target_url = coalesce($3, target_url),
       is_active = coalesce($4, is_active),
       disabled_reason = CASE WHEN $4 THEN NULL ELSE disabled_reason END,
       disabled_at = CASE WHEN $4 THEN NULL ELSE disabled_at END,
       failing_since = CASE WHEN $4 THEN NULL ELSE failing_since END,
       updated_at = now()
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
RETURNING id, event_type, target_url, is_active, disabled_reason, disabled_at, created_at, updated_at
