-- key_prefix is unique: on the rare collision the caller generates a new key.
INSERT INTO api_keys (api_consumer_id, key_prefix, key_hash, scopes, token_type, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (key_prefix) DO NOTHING
RETURNING id, created_at
