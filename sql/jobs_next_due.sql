-- When the earliest job (retry or expired lease) becomes due.
SELECT min(run_at) FROM ihf_jobs
