-- Deactivate subscriptions among $1 that have had no success for $2 milliseconds.
UPDATE webhook_subscriptions
   SET is_active = FALSE,
       disabled_at = now(),
       updated_at = now(),
       disabled_reason = 'no successful delivery since '
           || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || '; deactivated automatically'
 WHERE id = ANY($1::uuid[])
   AND is_active
   AND failing_since < now() - $2::bigint * interval '1 millisecond'
RETURNING id
