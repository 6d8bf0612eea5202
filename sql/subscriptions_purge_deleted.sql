-- Subscriptions deleted more than $1 ms ago (the delivery log's retention)
-- whose log rows are all gone, with their health and exhaustion rows: the
-- log's foreign key kept them until then. (Jobs cascade; there are none left
-- after a deletion anyway.) Returns how many went.
WITH gone AS (
    DELETE FROM webhook_subscriptions s
     WHERE s.deleted_at < now() - $1::bigint * interval '1 millisecond'
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_subscription_id = s.id)
    RETURNING s.id
), health AS (
    DELETE FROM ihf_subscription_health h USING gone WHERE h.subscription_id = gone.id
), exhaustions AS (
    DELETE FROM ihf_operator_exhaustions e USING gone WHERE e.subscription_id = gone.id
)
SELECT count(*) FROM gone
