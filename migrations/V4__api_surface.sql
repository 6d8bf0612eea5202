-- The external API's own state beside the Phase 9 tables.

-- Daily quota: requests admitted in the current window, which ends at
-- quota_resets_at. Every replica adds what it admitted every few seconds and
-- reads back everyone's total (sql/consumers_sync_quota.sql).
ALTER TABLE api_consumers ADD COLUMN quota_used BIGINT NOT NULL DEFAULT 0;

-- The seed's default is a timestamp without time zone, read in the session's
-- time zone; this is the next UTC midnight whatever the session's zone is.
ALTER TABLE api_consumers ALTER COLUMN quota_resets_at
    SET DEFAULT ((date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC');

-- Admin listing pages through consumers in creation order.
CREATE INDEX api_consumers_created_idx ON api_consumers (created_at, id);

-- An OAuth token remembers the static key that authenticated the client, so
-- revoking a leaked key also revokes the tokens minted with it.
ALTER TABLE api_keys ADD COLUMN issued_from UUID REFERENCES api_keys(id) ON DELETE CASCADE;
CREATE INDEX api_keys_issued_from_idx ON api_keys (issued_from) WHERE issued_from IS NOT NULL;

-- Expired tokens are purged (key_prefix has only 32 bits, so dead rows would
-- make prefix collisions ever more likely); this finds them.
CREATE INDEX api_keys_oauth_expiry_idx ON api_keys (expires_at) WHERE token_type = 'oauth';

-- Key listing per consumer, in creation order.
CREATE INDEX api_keys_consumer_created_idx ON api_keys (api_consumer_id, created_at, id);
