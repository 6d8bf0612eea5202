-- Before creating a subscription: locks the consumer's row (so concurrent
-- creations queue up instead of overshooting the limit together), and says
-- how many live subscriptions it has and whether one already delivers the
-- same event type to the same URL.
-- $1 consumer id, $2 event type, $3 target URL (normalised).
SELECT (SELECT count(*)
          FROM webhook_subscriptions
         WHERE api_consumer_id = $1 AND deleted_at IS NULL) AS subscriptions,
       EXISTS (SELECT 1
                 FROM webhook_subscriptions
                WHERE api_consumer_id = $1 AND deleted_at IS NULL
                  AND event_type = $2 AND target_url = $3) AS duplicate
  FROM api_consumers
 WHERE id = $1
   FOR UPDATE
