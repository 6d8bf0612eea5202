-- The key with this prefix, its consumer and the consumer's limits; the caller
-- compares the hash in constant time and checks expiry, revocation and the
-- consumer's state.
SELECT k.id, k.api_consumer_id, k.key_hash, k.scopes, k.token_type, k.expires_at,
       (k.expires_at IS NOT NULL AND k.expires_at <= now()) AS expired,
       (k.revoked_at IS NOT NULL) AS revoked,
       c.is_active AS consumer_active,
       c.rate_limit_per_minute, c.quota_per_day, c.quota_used, c.quota_resets_at
  FROM api_keys k
  JOIN api_consumers c ON c.id = k.api_consumer_id
 WHERE k.key_prefix = $1
