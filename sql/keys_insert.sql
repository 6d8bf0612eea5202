-- key_prefix is unique: on the rare collision the caller generates a new key.
-- $7: for an OAuth token, the static key that authenticated the client.
INSERT INTO api_keys (api_consumer_id, key_prefix, key_hash, scopes, token_type, expires_at, issued_from)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (key_prefix) DO NOTHING
RETURNING id, created_at
