SELECT id, name, description, rate_limit_per_minute, quota_per_day, quota_used, quota_resets_at,
       is_active, created_at, updated_at
  FROM api_consumers
 WHERE id = $1
