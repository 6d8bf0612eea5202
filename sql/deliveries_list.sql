-- A page of one subscription's attempt log, newest first, before the cursor
-- position ($2, $3) when given; $4: only this status; $5: attempted at or
-- after; $6: page size + 1. The caller has checked the subscription is theirs.
-- A delivery's first row carries the envelope and its later rows only
-- {"id", "type", "timestamp"} (migrations/V15): such a row shows the body of
-- its delivery's body row, the earliest row of (subscription, event) with
-- 'data', looked for from an hour before the event's time (attempt times come
-- from the service's clock) up to the row's own time. A row whose body row is
-- gone (past the log's retention) shows what it has.
WITH page AS (
    SELECT id, webhook_subscription_id, payload, status, response_code, latency_ms,
           error_message, attempted_at
      FROM webhook_deliveries
     WHERE webhook_subscription_id = $1
       AND ($2::timestamptz IS NULL OR (attempted_at, id) < ($2, $3::uuid))
       AND ($4::text IS NULL OR status = $4)
       AND ($5::timestamptz IS NULL OR attempted_at >= $5)
     ORDER BY attempted_at DESC, id DESC
     LIMIT $6
)
SELECT p.id, p.payload->>'id' AS event_id, p.payload->>'type' AS event_type, p.status,
       p.response_code, p.latency_ms, p.error_message, p.attempted_at,
       coalesce(body.payload, p.payload) AS payload
  FROM page p
  LEFT JOIN LATERAL (
    -- webhook_deliveries_event_idx serves this (migrations/V14).
    SELECT b.payload
      FROM webhook_deliveries b
     WHERE NOT (p.payload ? 'data')
       AND b.webhook_subscription_id = p.webhook_subscription_id
       AND (b.payload->>'id')::uuid = (p.payload->>'id')::uuid
       AND b.attempted_at >= (p.payload->>'timestamp')::timestamptz - interval '1 hour'
       AND b.attempted_at <= p.attempted_at
       AND b.payload ? 'data'
     ORDER BY b.attempted_at, b.id
     LIMIT 1
  ) body ON true
 ORDER BY p.attempted_at DESC, p.id DESC
