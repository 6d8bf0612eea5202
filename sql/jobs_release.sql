-- Hand claimed jobs back (graceful shutdown): due now, claim undone, so the
-- next replica retries them without waiting for the lease to expire.
-- $1/$2: job ids, sorted, and the attempt each was leased for, found by
-- binary search rather than by a join, for the reason given in
-- jobs_finish.sql.
UPDATE ihf_jobs j
   SET run_at = now(), attempts = j.attempts - 1, claimed_by = NULL
 WHERE j.id = ANY ($1::bigint[])
   AND j.attempts = ($2::int[])[width_bucket(j.id, $1::bigint[])]
