-- Changes the given fields of one consumer (null: unchanged).
UPDATE api_consumers
   SET name = coalesce($2, name),
       description = coalesce($3, description),
       rate_limit_per_minute = coalesce($4, rate_limit_per_minute),
       quota_per_day = coalesce($5, quota_per_day),
       is_active = coalesce($6, is_active),
       updated_at = now()
 WHERE id = $1
RETURNING id, name, description, rate_limit_per_minute, quota_per_day, quota_used, quota_resets_at,
          is_active, created_at, updated_at
