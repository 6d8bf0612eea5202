-- Write decided exhaustion windows back (rows locked by this transaction).
-- $1: subscription ids, $2: window ends, $3: unreported count, $4/$5: first
-- and last unreported event ids.
UPDATE ihf_operator_exhaustions w
   SET window_ends = r.window_ends, pending = r.pending,
       first_event_id = r.first_event_id, last_event_id = r.last_event_id
  FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::uuid[], $5::uuid[])
       AS r(subscription_id, window_ends, pending, first_event_id, last_event_id)
 WHERE w.subscription_id = r.subscription_id
