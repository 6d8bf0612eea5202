-- One attempt made outside the job queue (a test event), for the log.
INSERT INTO webhook_deliveries
       (webhook_subscription_id, payload, attempted_at, status, response_code, latency_ms, error_message)
VALUES ($1, $2, $3, $4, $5, $6, $7)
