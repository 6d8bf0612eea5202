INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret)
VALUES ($1, $2, $3, $4)
RETURNING id, event_type, target_url, is_active, disabled_reason, disabled_at, created_at, updated_at
