-- For the queue gauges (sampled by the worker, not per scrape): jobs due
-- (waiting jobs whose time has come, and leased jobs whose lease has run out),
-- how long the oldest has been due (seconds), and captured events not yet
-- fanned out. Both counts stop at $1, so a sample's cost is bounded however
-- long the queues grow. Each kind of job is read through its own partial
-- index: leased jobs by lease expiry (min(run_at) is one probe), waiting jobs
-- by the claim's index, which holds only waiting jobs; never a scan of the
-- whole table, whose jobs in flight and dead rows a backlog multiplies.
SELECT (SELECT count(*)
          FROM ((SELECT 1 FROM ihf_jobs WHERE claimed_by IS NULL AND run_at <= now() LIMIT $1)
                UNION ALL
                (SELECT 1 FROM ihf_jobs WHERE claimed_by IS NOT NULL AND run_at <= now() LIMIT $1)
                LIMIT $1) due) AS due,
       coalesce(extract(epoch FROM now() - least(
           (SELECT min(run_at) FROM ihf_jobs WHERE claimed_by IS NULL AND run_at <= now()),
           (SELECT min(run_at) FROM ihf_jobs WHERE claimed_by IS NOT NULL AND run_at <= now())
       ))::float8, 0) AS oldest_due_seconds,
       (SELECT count(*) FROM (SELECT 1 FROM ihf_outbox LIMIT $1) o) AS outbox
