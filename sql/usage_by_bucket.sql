-- The calling consumer's requests in [$2, $3) per UTC bucket ($4: 'day' or
-- 'hour', as date_trunc names them), endpoint and method: counts, status
-- classes and latency percentiles. Each bucket also gets one row across all
-- endpoints (`total`), so its percentiles are exact rather than averaged
-- from the per-endpoint ones. $1: the consumer.
SELECT date_trunc($4, requested_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start,
       endpoint, method, GROUPING(endpoint) = 1 AS total,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS status_2xx,
       count(*) FILTER (WHERE status_code BETWEEN 300 AND 399) AS status_3xx,
       count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS status_4xx,
       count(*) FILTER (WHERE status_code >= 500) AS status_5xx,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
  FROM api_request_log
 WHERE api_consumer_id = $1 AND requested_at >= $2 AND requested_at < $3
 GROUP BY GROUPING SETS ((1, 2, 3), (1))
 ORDER BY 1 DESC, 2, 3
