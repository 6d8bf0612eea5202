-- A page of one consumer's keys in creation order, after the cursor position
-- ($2, $3) when given; $4 filters by token_type when not null; $5: page size + 1.
SELECT id, key_prefix, scopes, token_type, expires_at, revoked_at, last_used_at, created_at
  FROM api_keys
 WHERE api_consumer_id = $1
   AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
   AND ($4::text IS NULL OR token_type = $4)
 ORDER BY created_at, id
 LIMIT $5
