-- What sending to subscription $1 of consumer $2 needs (the test endpoint).
SELECT event_type, target_url, is_active, secret,
       CASE WHEN previous_secret_expires_at > now() THEN previous_secret END AS previous_secret,
       headers
  FROM webhook_subscriptions
 WHERE id = $1 AND api_consumer_id = $2 AND deleted_at IS NULL
