VACUUM (SKIP_LOCKED) ihf_jobs, ihf_outbox
