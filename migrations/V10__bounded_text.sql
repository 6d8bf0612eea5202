-- Bounds what a client can make the service store: a subscription's
-- target_url (2048 characters) and a consumer's name (200). The API refuses
-- longer values with a 422 first; these CHECKs hold for every other writer.
-- NOT VALID: rows written before the limit existed are kept as they are
-- (checking them would fail the migration); every new or changed row is checked.
ALTER TABLE webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_target_url_length
    CHECK (char_length(target_url) <= 2048) NOT VALID;
ALTER TABLE api_consumers
    ADD CONSTRAINT api_consumers_name_length
    CHECK (char_length(name) <= 200) NOT VALID;
