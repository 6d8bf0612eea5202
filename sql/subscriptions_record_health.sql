-- Track since when each subscription has been failing: a success clears it,
-- the first failure after a success starts it. $1: subscription ids, sorted,
-- each once; $2: whether any of the batch's attempts for it succeeded (found
-- by binary search, not by a join: see jobs_finish.sql). Only rows whose
-- state changes are written.
UPDATE webhook_subscriptions s
   SET failing_since = CASE WHEN ($2::bool[])[width_bucket(s.id, $1::uuid[])]
                            THEN NULL ELSE now() END
 WHERE s.id = ANY ($1::uuid[])
   AND CASE WHEN ($2::bool[])[width_bucket(s.id, $1::uuid[])]
            THEN s.failing_since IS NOT NULL
            ELSE s.failing_since IS NULL END
