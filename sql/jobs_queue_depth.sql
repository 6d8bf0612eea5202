-- For /metrics: jobs due and unclaimed, how long the oldest has been due
-- (seconds), and captured events not yet fanned out.
SELECT (SELECT count(*) FROM ihf_jobs WHERE run_at <= now()) AS due,
       coalesce((SELECT extract(epoch FROM now() - min(run_at))::float8
                   FROM ihf_jobs WHERE run_at <= now()), 0) AS oldest_due_seconds,
       (SELECT count(*) FROM ihf_outbox) AS outbox
