-- Make sure subscriptions $1 have an exhaustion window row (an empty one,
-- long over), so the next statement can lock it: a row that does not exist
-- cannot be locked, and two replicas would both see "no window".
INSERT INTO ihf_operator_exhaustions (subscription_id, window_ends)
SELECT id, 'epoch'::timestamptz FROM unnest($1::uuid[]) AS id ORDER BY id
ON CONFLICT (subscription_id) DO NOTHING
