-- Record a batch of attempt results in one statement: each result either ends
-- its job (retry_at NULL: delivered, finally failed, cancelled) or reschedules
-- it, and appends its row to the attempt log. A result whose attempt number no
-- longer matches the job (the lease expired and someone else claimed it) is
-- dropped, so a slow replica cannot overwrite a newer attempt.
-- The envelope is stored once per delivery (migrations/V15): a job whose
-- envelope is not in the log yet ($9 false, as claimed) logs the full
-- payload; every later row is the compact {"id", "type", "timestamp"}, whose
-- readers take the body from the delivery's first row. A rescheduled job has
-- logged its envelope from then on. $10: each row's id, time-ordered (UUIDv7
-- from the service), so the log's primary key grows at its end and its pages
-- fill up (migrations/V14).
--
-- $1..$10 are parallel arrays, one element per result, sorted by job id
-- ($1), a job in a batch once. Each job finds its result by binary search
-- (width_bucket over $1) instead of by a join: the worker's plans are
-- generic, made from the statistics of the moment, and a queue table VACUUM
-- last saw empty is estimated at one row. A join then became a nested loop
-- that rescanned the whole batch for every job: ~330 ms for a batch of 1 000
-- (2026-12-04), so a recorder that fell behind got larger batches and fell
-- further behind. `j.id = ANY ($1)` lets the jobs be found through the
-- primary key.
WITH ended AS (
    DELETE FROM ihf_jobs j
     WHERE j.id = ANY ($1::bigint[])
       AND ($8::timestamptz[])[width_bucket(j.id, $1::bigint[])] IS NULL
       AND j.attempts = ($2::int[])[width_bucket(j.id, $1::bigint[])]
    RETURNING j.id, j.subscription_id, j.payload
), rescheduled AS (
    UPDATE ihf_jobs j
       SET run_at = ($8::timestamptz[])[width_bucket(j.id, $1::bigint[])],
           claimed_by = NULL, envelope_logged = true
     WHERE j.id = ANY ($1::bigint[])
       AND ($8::timestamptz[])[width_bucket(j.id, $1::bigint[])] IS NOT NULL
       AND j.attempts = ($2::int[])[width_bucket(j.id, $1::bigint[])]
    RETURNING j.id, j.subscription_id, j.payload
), fenced AS (
    SELECT f.subscription_id, f.payload, width_bucket(f.id, $1::bigint[]) AS i
      FROM (SELECT * FROM ended UNION ALL SELECT * FROM rescheduled) f
)
INSERT INTO webhook_deliveries
       (id, webhook_subscription_id, payload, attempted_at, status, response_code, latency_ms, error_message)
SELECT ($10::uuid[])[f.i], f.subscription_id,
       CASE WHEN ($9::bool[])[f.i]
            THEN jsonb_build_object('id', f.payload->'id', 'type', f.payload->'type',
                                    'timestamp', f.payload->'timestamp')
            ELSE f.payload
       END,
       ($7::timestamptz[])[f.i], ($3::text[])[f.i], ($4::int[])[f.i], ($5::int[])[f.i],
       ($6::text[])[f.i]
  FROM fenced f
RETURNING webhook_subscription_id
