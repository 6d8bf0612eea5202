-- Windows whose hour is over with exhaustions still unreported: lock them for
-- the summary. SKIP LOCKED: a window another replica is summarizing (or
-- recording into) is left to it; it is looked at again on the next sweep.
SELECT subscription_id, window_ends, pending, first_event_id, last_event_id
  FROM ihf_operator_exhaustions
 WHERE pending > 0 AND window_ends <= now()
 ORDER BY subscription_id
 LIMIT 100
   FOR UPDATE SKIP LOCKED
