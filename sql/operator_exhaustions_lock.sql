-- Lock the exhaustion windows of subscriptions $1 (in id order: no
-- deadlocks between replicas) and read them, for src/notify/exhaustion.rs to
-- decide on; the lock holds until the transaction writes its decision.
SELECT subscription_id, window_ends, pending, first_event_id, last_event_id
  FROM ihf_operator_exhaustions
 WHERE subscription_id = ANY($1::uuid[])
 ORDER BY subscription_id
   FOR UPDATE
