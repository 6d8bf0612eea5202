-- Revokes a key and every token issued with it; returns the key (and those
-- tokens) whether or not it was already revoked, so revoking is idempotent.
UPDATE api_keys
   SET revoked_at = coalesce(revoked_at, now())
 WHERE id = $1 OR issued_from = $1
RETURNING id, api_consumer_id, revoked_at, (id = $1) AS is_key
