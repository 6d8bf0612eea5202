-- Hand claimed jobs back (graceful shutdown): due now, claim undone, so the
-- next replica retries them without waiting for the lease to expire.
UPDATE ihf_jobs j
   SET run_at = now(), attempts = j.attempts - 1, claimed_by = NULL
  FROM unnest($1::bigint[], $2::int[]) AS r(job_id, attempt)
 WHERE j.id = r.job_id AND j.attempts = r.attempt
