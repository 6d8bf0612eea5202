-- Track since when each subscription has been failing: a success clears it,
-- the first failure after a success starts it. $1: subscription ids, $2: whether
-- that attempt succeeded. Only rows whose state changes are written.
WITH r AS (
    SELECT id, bool_or(ok) AS ok
      FROM unnest($1::uuid[], $2::bool[]) AS r(id, ok)
     GROUP BY id
)
UPDATE webhook_subscriptions s
   SET failing_since = CASE WHEN r.ok THEN NULL ELSE now() END
  FROM r
 WHERE s.id = r.id
   AND ((r.ok AND s.failing_since IS NOT NULL) OR (NOT r.ok AND s.failing_since IS NULL))
