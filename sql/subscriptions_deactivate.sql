-- Stop delivering to subscriptions whose receivers asked us to (410 Gone) or
-- that kept failing; the reason is shown by the API. Returns the ids it
-- deactivated (for the operator's subscription.disabled).
UPDATE webhook_subscriptions
   SET is_active = FALSE, disabled_reason = r.reason, disabled_at = now(), updated_at = now()
  FROM unnest($1::uuid[], $2::text[]) AS r(id, reason)
 WHERE webhook_subscriptions.id = r.id AND is_active
RETURNING webhook_subscriptions.id
