-- A subscription's attempt log between $2 and $3 summed up: rows by status
-- and the latency percentiles of attempts that got an answer (ms). The
-- caller has checked the subscription ($1) is theirs.
SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
  FROM webhook_deliveries
 WHERE webhook_subscription_id = $1
   AND attempted_at >= $2 AND attempted_at < $3
