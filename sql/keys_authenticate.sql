-- The key with this prefix and its consumer; the caller compares the hash in
-- constant time and checks expiry, revocation and the consumer's state.
SELECT k.id, k.api_consumer_id, k.key_hash, k.scopes, k.token_type,
       (k.expires_at IS NOT NULL AND k.expires_at <= now()) AS expired,
       (k.revoked_at IS NOT NULL) AS revoked,
       c.is_active AS consumer_active
  FROM api_keys k
  JOIN api_consumers c ON c.id = k.api_consumer_id
 WHERE k.key_prefix = $1
