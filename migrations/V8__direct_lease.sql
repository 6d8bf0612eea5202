-- Fan-out now leases the jobs it creates to its own replica and starts them
-- at once, and the per-subscription cap counts this replica's attempts in
-- flight (it protects this replica's slots from a hanging receiver). Nothing
-- counts leased rows any more, so the partial index only cost every insert.
DROP INDEX ihf_jobs_leased_idx;

-- The foreign key ran one lookup (and a KEY SHARE row lock) per job created.
-- It cannot guard anything: every job is created together with a 'pending'
-- row in webhook_deliveries for the same subscription, and that table's own
-- foreign key (no cascade) already keeps such a subscription from being
-- deleted; subscriptions are soft-deleted (deleted_at) anyway.
ALTER TABLE ihf_jobs DROP CONSTRAINT ihf_jobs_subscription_id_fkey;

-- run_at alone was only used to find the next due job; the (subscription_id,
-- run_at) index answers that with one probe per subscription
-- (jobs_next_due.sql), and every job insert and claim no longer maintains a
-- third index.
DROP INDEX ihf_jobs_run_at_idx;
