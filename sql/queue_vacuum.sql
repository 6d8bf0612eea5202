VACUUM (SKIP_LOCKED) ihf_jobs, ihf_outbox, ihf_operator_notifications, ihf_operator_exhaustions
