-- Hand jobs whose lease ran out (their replica died or lost its connection)
-- back to the waiting jobs, where any replica's claim finds them
-- (jobs_claim_due.sql only looks at unleased jobs). One probe on
-- ihf_jobs_lease_expiry_idx when nothing expired. attempts is left as it is:
-- the next claim bumps it, which fences out a late result of the lost attempt.
UPDATE ihf_jobs SET claimed_by = NULL
 WHERE claimed_by IS NOT NULL AND run_at <= now()
