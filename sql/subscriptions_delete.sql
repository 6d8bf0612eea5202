-- Soft delete: the attempt log references the subscription and is kept.
-- Jobs still queued for it are cancelled when claimed (it is no longer active).
UPDATE webhook_subscriptions
   SET is_active = FALSE, deleted_at = now(), updated_at = now()
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
RETURNING id
