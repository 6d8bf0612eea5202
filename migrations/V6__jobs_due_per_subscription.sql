-- The claim walks subscriptions and takes each one's oldest due jobs, so it
-- needs due jobs per subscription in run_at order (replaces the plain index).
CREATE INDEX ihf_jobs_subscription_due_idx ON ihf_jobs (subscription_id, run_at);
DROP INDEX ihf_jobs_subscription_idx;
