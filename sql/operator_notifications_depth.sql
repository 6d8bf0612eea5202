-- For /metrics: operator notifications waiting to be delivered.
SELECT count(*) FROM ihf_operator_notifications
