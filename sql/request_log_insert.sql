-- A batch of request-log rows. Rows of consumers deleted meanwhile are
-- skipped rather than failing the whole batch on the foreign key.
INSERT INTO api_request_log (api_consumer_id, endpoint, method, status_code, latency_ms, requested_at)
SELECT r.consumer_id, r.endpoint, r.method, r.status_code, r.latency_ms, r.requested_at
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::timestamptz[])
       AS r(consumer_id, endpoint, method, status_code, latency_ms, requested_at)
  JOIN api_consumers c ON c.id = r.consumer_id
