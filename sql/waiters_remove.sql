DELETE FROM ihf_waiters WHERE replica_id = $1 OR waiting_until < now() - interval '1 hour'
