-- Every subscription's stored secrets (deleted ones too: their secrets are
-- still in the table), for sealing them at rest or resealing them under a
-- new key. Returns id, secret, previous_secret.
SELECT id, secret, previous_secret
  FROM webhook_subscriptions
 ORDER BY id
