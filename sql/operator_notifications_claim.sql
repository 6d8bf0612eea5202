-- Claim up to $1 due operator notifications and lease them for $2
-- milliseconds; attempts is bumped here and fences the finish. SKIP LOCKED:
-- replicas never send the same attempt twice.
WITH due AS (
    SELECT id FROM ihf_operator_notifications
     WHERE run_at <= now()
     ORDER BY run_at, id
     LIMIT $1::bigint
       FOR UPDATE SKIP LOCKED
)
UPDATE ihf_operator_notifications n
   SET attempts = n.attempts + 1,
       run_at = now() + $2::bigint * interval '1 millisecond'
  FROM due
 WHERE n.id = due.id
RETURNING n.id, n.attempts, n.webhook_id, n.event_type, ihf_rfc3339(n.occurred_at) AS occurred_at,
          n.data::text AS data
