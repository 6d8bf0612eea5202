-- Record one operator notification attempt: $3 NULL ends it (delivered or
-- given up: deleted), otherwise it is due again at $3. $2: the attempt
-- number it was claimed with; a stale result (lease expired, claimed again)
-- changes nothing.
WITH ended AS (
    DELETE FROM ihf_operator_notifications
     WHERE id = $1 AND attempts = $2 AND $3::timestamptz IS NULL
    RETURNING 1
)
UPDATE ihf_operator_notifications
   SET run_at = $3
 WHERE id = $1 AND attempts = $2 AND $3::timestamptz IS NOT NULL
