-- A page of consumers in creation order, after the cursor position ($1, $2)
-- when given. $3: page size + 1 (to know if more exist).
SELECT id, name, description, rate_limit_per_minute, quota_per_day, quota_used, quota_resets_at,
       is_active, created_at, updated_at
  FROM api_consumers
 WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
 ORDER BY created_at, id
 LIMIT $3
