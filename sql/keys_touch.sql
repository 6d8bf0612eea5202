-- last_used_at for a batch of keys ($1 ids, $2 times), written every few
-- seconds from memory instead of once per request; never moves backwards.
UPDATE api_keys k
   SET last_used_at = u.at
  FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
 WHERE k.id = u.id
   AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
