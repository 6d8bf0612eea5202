-- Whether the outbox holds any event: the dispatcher's look after a round
-- that found none. Under a trickle of events it looks every millisecond,
-- and a fan-out that finds nothing still costs the database about 0.2 ms
-- (its plan is large); this costs a fraction of that.
SELECT EXISTS (SELECT FROM ihf_outbox)
