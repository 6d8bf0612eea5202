-- Subscription health the API shows, custom headers, and the operator's own
-- notification queue (README: "Operator notifications").

-- Custom headers sent with every delivery: a JSON object of name -> value.
-- Values are write-only through the API; they are written and read in one
-- place (src/delivery/headers.rs) so they can be sealed at rest like secrets.
ALTER TABLE webhook_subscriptions
    ADD COLUMN headers JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Set when subscription.failing was queued for the current failure
    -- streak; a success clears it (and queues subscription.recovered). The
    -- UPDATE that sets or clears it decides the transition under the row
    -- lock, so among several replicas exactly one queues it.
    ADD COLUMN failing_notified_at TIMESTAMPTZ;

-- The failing sweep looks only at subscriptions failing and not yet notified.
CREATE INDEX webhook_subs_failing_idx ON webhook_subscriptions (failing_since)
    WHERE failing_since IS NOT NULL AND failing_notified_at IS NULL;

-- Last success and failure per subscription, upserted once per recorded
-- batch: the append-only log could answer this only by walking back through
-- a dead receiver's whole history.
CREATE TABLE ihf_subscription_health (
    subscription_id UUID PRIMARY KEY,
    last_success_at TIMESTAMPTZ,
    last_failure_at TIMESTAMPTZ,
    last_error TEXT
);

-- Operator notifications waiting to be sent. They are not framework events
-- (the seed's event_type check and its non-null consumer column keep them out
-- of webhook_subscriptions and webhook_deliveries), so they have their own
-- queue. webhook_id is drawn once per transition and kept on every retry.
-- attempts fences the finish like ihf_jobs; run_at is the lease expiry while
-- a replica sends it. Rows are deleted once delivered or given up.
CREATE TABLE ihf_operator_notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    event_type TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    data JSONB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ihf_operator_notifications_run_at_idx ON ihf_operator_notifications (run_at);

-- delivery.exhausted is rate limited per subscription: the first exhaustion
-- is notified at once and opens an hour; exhaustions inside it are counted
-- here and sent as one summary when it ends (src/notify/exhaustion.rs).
CREATE TABLE ihf_operator_exhaustions (
    subscription_id UUID PRIMARY KEY,
    window_ends TIMESTAMPTZ NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,
    first_event_id UUID,
    last_event_id UUID
);
CREATE INDEX ihf_operator_exhaustions_due_idx ON ihf_operator_exhaustions (window_ends)
    WHERE pending > 0;

-- Timestamps as the envelopes write them: RFC 3339, UTC, microseconds.
CREATE FUNCTION ihf_rfc3339(ts TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- The fields every operator notification's data carries, for one
-- subscription, as of `at`.
CREATE FUNCTION ihf_operator_data(subscription UUID, at TIMESTAMPTZ) RETURNS JSONB
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'consumer_id', c.id,
               'consumer_name', c.name,
               'subscription_id', s.id,
               'target_url', s.target_url,
               'event_type', s.event_type,
               'at', ihf_rfc3339(at))
      FROM webhook_subscriptions s
      JOIN api_consumers c ON c.id = s.api_consumer_id
     WHERE s.id = subscription
$$;
