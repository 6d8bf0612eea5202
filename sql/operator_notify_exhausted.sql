-- Queue delivery.exhausted reports decided by src/notify/exhaustion.rs.
-- $1: subscription ids, $2: how many events exhausted their retries, $3/$4:
-- the first and last of them.
INSERT INTO ihf_operator_notifications (event_type, data)
SELECT 'delivery.exhausted',
       ihf_operator_data(r.subscription_id, now())
       || jsonb_build_object('count', r.count,
                             'first_event_id', r.first_event_id,
                             'last_event_id', r.last_event_id)
  FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::uuid[])
       AS r(subscription_id, count, first_event_id, last_event_id)
