-- A new subscription of consumer $1: event type $2, target $3, secret $4,
-- custom headers $5 (as stored by src/delivery/headers.rs).
INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret, headers)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, event_type, target_url, is_active, disabled_reason, disabled_at, created_at, updated_at, headers
