-- Replaces subscription $1's stored secrets with the same secrets sealed
-- anew: $2 secret, $3 previous_secret. Only if they still read $4 and $5
-- (what the caller unsealed), so a rotation that happened meanwhile is
-- never overwritten; no row: someone else changed them first.
UPDATE webhook_subscriptions
   SET secret = $2, previous_secret = $3
 WHERE id = $1 AND secret = $4 AND previous_secret IS NOT DISTINCT FROM $5
RETURNING id
