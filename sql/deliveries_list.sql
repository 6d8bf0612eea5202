-- A page of one subscription's attempt log, newest first, before the cursor
-- position ($2, $3) when given; $4: only this status; $5: attempted at or
-- after; $6: page size + 1. The caller has checked the subscription is theirs.
SELECT id, payload->>'id' AS event_id, payload->>'type' AS event_type, status,
       response_code, latency_ms, error_message, attempted_at, payload
  FROM webhook_deliveries
 WHERE webhook_subscription_id = $1
   AND ($2::timestamptz IS NULL OR (attempted_at, id) < ($2, $3::uuid))
   AND ($4::text IS NULL OR status = $4)
   AND ($5::timestamptz IS NULL OR attempted_at >= $5)
 ORDER BY attempted_at DESC, id DESC
 LIMIT $6
