-- The calling consumer's requests per UTC day, endpoint and method in
-- [$2, $3): counts, status classes and latency percentiles.
SELECT (requested_at AT TIME ZONE 'UTC')::date AS day, endpoint, method,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS status_2xx,
       count(*) FILTER (WHERE status_code BETWEEN 300 AND 399) AS status_3xx,
       count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS status_4xx,
       count(*) FILTER (WHERE status_code >= 500) AS status_5xx,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
  FROM api_request_log
 WHERE api_consumer_id = $1 AND requested_at >= $2 AND requested_at < $3
 GROUP BY 1, 2, 3
 ORDER BY 1 DESC, 2, 3
