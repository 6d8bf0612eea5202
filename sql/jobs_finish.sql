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
WITH r AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::int[],
                         $6::text[], $7::timestamptz[], $8::timestamptz[], $9::bool[], $10::uuid[])
        AS r(job_id, attempt, status, response_code, latency_ms, error_message, attempted_at, retry_at,
             envelope_logged, row_id)
), ended AS (
    DELETE FROM ihf_jobs j USING r
     WHERE j.id = r.job_id AND j.attempts = r.attempt AND r.retry_at IS NULL
    RETURNING j.id, j.subscription_id, j.payload
), rescheduled AS (
    UPDATE ihf_jobs j SET run_at = r.retry_at, claimed_by = NULL, envelope_logged = true
      FROM r
     WHERE j.id = r.job_id AND j.attempts = r.attempt AND r.retry_at IS NOT NULL
    RETURNING j.id, j.subscription_id, j.payload
), fenced AS (
    SELECT * FROM ended UNION ALL SELECT * FROM rescheduled
)
INSERT INTO webhook_deliveries
       (id, webhook_subscription_id, payload, attempted_at, status, response_code, latency_ms, error_message)
SELECT r.row_id, f.subscription_id,
       CASE WHEN r.envelope_logged
            THEN jsonb_build_object('id', f.payload->'id', 'type', f.payload->'type',
                                    'timestamp', f.payload->'timestamp')
            ELSE f.payload
       END,
       r.attempted_at, r.status, r.response_code, r.latency_ms, r.error_message
  FROM fenced f JOIN r ON r.job_id = f.id
RETURNING webhook_subscription_id
