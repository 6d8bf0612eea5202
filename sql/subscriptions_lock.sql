-- Lock subscription $1 of consumer $2 for the rest of the transaction and
-- say whether it is active: two recover calls for one subscription then run
-- one after the other, and the second sees the first's jobs.
SELECT is_active
  FROM webhook_subscriptions
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
   FOR UPDATE
