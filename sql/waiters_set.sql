-- Mark this replica as waiting for a doorbell until $2 (NULL: busy, don't ring).
INSERT INTO ihf_waiters (replica_id, waiting_until) VALUES ($1, $2)
ON CONFLICT (replica_id) DO UPDATE SET waiting_until = EXCLUDED.waiting_until
