-- Remember each subscription's last success and last failure (with its
-- error) from a batch of attempt results, for the API's health fields and
-- the operator's notifications. One upsert per batch; rows are written in id
-- order so two replicas' batches cannot deadlock.
-- $1: subscription ids, $2: delivered?, $3: attempted at, $4: error message.
WITH r AS (
    SELECT * FROM unnest($1::uuid[], $2::bool[], $3::timestamptz[], $4::text[])
        AS r(id, ok, at, error)
), latest AS (
    SELECT id,
           max(at) FILTER (WHERE ok) AS last_success_at,
           max(at) FILTER (WHERE NOT ok) AS last_failure_at,
           (array_agg(error ORDER BY at DESC) FILTER (WHERE NOT ok))[1] AS last_error
      FROM r
     GROUP BY id
)
INSERT INTO ihf_subscription_health AS h (subscription_id, last_success_at, last_failure_at, last_error)
SELECT id, last_success_at, last_failure_at, last_error FROM latest ORDER BY id
ON CONFLICT (subscription_id) DO UPDATE
   SET last_success_at = greatest(h.last_success_at, EXCLUDED.last_success_at),
       last_failure_at = greatest(h.last_failure_at, EXCLUDED.last_failure_at),
       last_error = CASE WHEN EXCLUDED.last_failure_at >= h.last_failure_at
                           OR h.last_failure_at IS NULL
                         THEN coalesce(EXCLUDED.last_error, h.last_error)
                         ELSE h.last_error END
