INSERT INTO api_consumers (name, description, rate_limit_per_minute, quota_per_day)
VALUES ($1, $2, $3, $4)
RETURNING id, name, description, rate_limit_per_minute, quota_per_day, quota_used, quota_resets_at,
          is_active, created_at, updated_at
