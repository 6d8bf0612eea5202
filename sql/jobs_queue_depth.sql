-- For the queue gauges (sampled by the worker, not per scrape): jobs due and
-- unclaimed, how long the oldest has been due (seconds), and captured events
-- not yet fanned out. Both counts stop at $1, so a sample's cost is bounded
-- however long the queues grow; min(run_at) is one index probe.
SELECT (SELECT count(*)
          FROM (SELECT 1 FROM ihf_jobs WHERE run_at <= now() LIMIT $1) due) AS due,
       coalesce((SELECT extract(epoch FROM now() - min(run_at))::float8
                   FROM ihf_jobs WHERE run_at <= now()), 0) AS oldest_due_seconds,
       (SELECT count(*) FROM (SELECT 1 FROM ihf_outbox LIMIT $1) o) AS outbox
