-- The key with this prefix ($1), its consumer and the consumer's limits; the
-- caller compares the hash in constant time and checks expiry, revocation
-- and the consumer's state. A token never outlives or outranks the static
-- key it was minted with: a revoked or expired parent counts as the token's
-- own revocation or expiry.
SELECT k.id, k.api_consumer_id, k.key_hash, k.scopes, k.token_type,
       CASE WHEN p.expires_at IS NULL THEN k.expires_at
            WHEN k.expires_at IS NULL THEN p.expires_at
            ELSE least(k.expires_at, p.expires_at) END AS expires_at,
       (k.expires_at IS NOT NULL AND k.expires_at <= now())
         OR (p.expires_at IS NOT NULL AND p.expires_at <= now()) AS expired,
       (k.revoked_at IS NOT NULL OR p.revoked_at IS NOT NULL) AS revoked,
       c.is_active AS consumer_active,
       c.rate_limit_per_minute, c.quota_per_day, c.quota_used, c.quota_resets_at
  FROM api_keys k
  JOIN api_consumers c ON c.id = k.api_consumer_id
  LEFT JOIN api_keys p ON p.id = k.issued_from
 WHERE k.key_prefix = $1
