-- Jobs currently leased, per subscription: the claim counts them to cap how
-- many attempts one subscription may have in flight (a hanging receiver must
-- not take every slot). Partial, so it only holds the few leased rows.
CREATE INDEX ihf_jobs_leased_idx ON ihf_jobs (subscription_id) WHERE claimed_by IS NOT NULL;
