-- Track since when each subscription has been failing: a success clears it,
-- the first failure after a success starts it. $1: subscription ids, each
-- once; $2: whether any of the batch's attempts for it succeeded (matched by
-- position, not by a join: see jobs_finish.sql). Only rows whose state
-- changes are written.
UPDATE webhook_subscriptions s
   SET failing_since = CASE WHEN ($2::bool[])[array_position($1::uuid[], s.id)]
                            THEN NULL ELSE now() END
 WHERE s.id = ANY ($1::uuid[])
   AND CASE WHEN ($2::bool[])[array_position($1::uuid[], s.id)]
            THEN s.failing_since IS NOT NULL
            ELSE s.failing_since IS NULL END
