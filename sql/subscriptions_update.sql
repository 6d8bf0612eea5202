-- Change target_url, is_active and/or the custom headers ($5, as stored by
-- src/delivery/headers.rs; replaces them all) (NULL: keep). Reactivating
-- clears the reason it was deactivated and restarts the failure clock, and
-- with it the operator's failing/recovered notifications.
UPDATE webhook_subscriptions
   SET target_url = coalesce($3, target_url),
       is_active = coalesce($4, is_active),
       headers = coalesce($5, headers),
       disabled_reason = CASE WHEN $4 THEN NULL ELSE disabled_reason END,
       disabled_at = CASE WHEN $4 THEN NULL ELSE disabled_at END,
       failing_since = CASE WHEN $4 THEN NULL ELSE failing_since END,
       failing_notified_at = CASE WHEN $4 THEN NULL ELSE failing_notified_at END,
       updated_at = now()
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
RETURNING id, event_type, target_url, is_active, disabled_reason, disabled_at, created_at, updated_at, headers
