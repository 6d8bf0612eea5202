-- For the operator queue gauge (sampled by the worker, not per scrape):
-- operator notifications waiting to be delivered, counted up to $1 so a
-- sample's cost is bounded.
SELECT count(*) FROM (SELECT 1 FROM ihf_operator_notifications LIMIT $1) q
