-- New secret $3 for subscription $1 of consumer $2; the old one keeps signing
-- alongside it for $4 milliseconds (two `v1,` items in webhook-signature).
UPDATE webhook_subscriptions
   SET previous_secret = secret,
       previous_secret_expires_at = now() + $4::bigint * interval '1 millisecond',
       secret = $3,
       updated_at = now()
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
RETURNING previous_secret_expires_at
