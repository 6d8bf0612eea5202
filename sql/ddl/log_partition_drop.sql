-- Retention: a whole partition whose every row is past retention goes at
-- once; no row is updated or deleted. Takes ACCESS EXCLUSIVE on the log for
-- a moment (the caller sets lock_timeout and retries).
DROP TABLE {partition};
