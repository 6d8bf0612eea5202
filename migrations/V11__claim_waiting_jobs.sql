-- The claim looks only at jobs that wait for a replica: unleased (overflow,
-- retries, released, redelivered). It walks the subscriptions that have such
-- jobs by skipping through this index (one probe per subscription with
-- waiting jobs), so its cost no longer grows with idle subscriptions or with
-- jobs in flight, which the old (subscription_id, run_at) index held too.
CREATE INDEX ihf_jobs_waiting_idx ON ihf_jobs (subscription_id, run_at) WHERE claimed_by IS NULL;
-- Leases whose replica died: found by expiry and handed back to the waiting
-- jobs (sql/jobs_expire_leases.sql). Every job is in exactly one of the two
-- partial indexes, so an insert still maintains one job index besides the key.
CREATE INDEX ihf_jobs_lease_expiry_idx ON ihf_jobs (run_at) WHERE claimed_by IS NOT NULL;
DROP INDEX ihf_jobs_subscription_due_idx;
