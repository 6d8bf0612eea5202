-- When the earliest waiting job (a retry, a released job) becomes due: each
-- subscription that has waiting jobs gives its first in run_at order, found by
-- skipping through ihf_jobs_waiting_idx (one probe per such subscription, none
-- for idle ones). Leases that run out are handed back by the janitor
-- (jobs_expire_leases.sql), which rings the dispatcher.
WITH RECURSIVE subs(id) AS (
    (SELECT subscription_id FROM ihf_jobs WHERE claimed_by IS NULL ORDER BY subscription_id LIMIT 1)
  UNION ALL
    SELECT (SELECT w.subscription_id FROM ihf_jobs w
             WHERE w.claimed_by IS NULL AND w.subscription_id > s.id
             ORDER BY w.subscription_id LIMIT 1)
      FROM subs s
     WHERE s.id IS NOT NULL
)
SELECT min(j.run_at)
  FROM subs s
 CROSS JOIN LATERAL (
    SELECT run_at FROM ihf_jobs w
     WHERE w.subscription_id = s.id AND w.claimed_by IS NULL
     ORDER BY run_at LIMIT 1
 ) j
