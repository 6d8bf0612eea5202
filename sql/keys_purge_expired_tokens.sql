-- OAuth tokens expired for over a day: nothing can use them, and every dead
-- row makes a key_prefix collision likelier.
DELETE FROM api_keys
 WHERE token_type = 'oauth' AND expires_at < now() - interval '1 day'
