-- Starts a new daily window for every consumer whose window has ended, so
-- quota_resets_at is the next UTC midnight even for consumers that are idle.
UPDATE api_consumers
   SET quota_used = 0,
       quota_resets_at = (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'
 WHERE quota_resets_at <= now()
