-- ihf-webhooks' own bookkeeping, beside the Phase 9 tables.
--
-- Flow: capture trigger -> ihf_outbox -> (fan-out) -> ihf_jobs + 'pending' log row
--       -> (claim, send) -> 'delivered' / 'failed' log rows, job deleted or rescheduled.

-- Outbox: one row per inserted source row, written by the capture trigger inside
-- the framework's own transaction, so an event exists exactly when its row does.
-- Rows are deleted when fanned out; the envelope then lives on in ihf_jobs and
-- in every webhook_deliveries row.
CREATE TABLE ihf_outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id UUID NOT NULL DEFAULT gen_random_uuid(),
    event_type TEXT NOT NULL,
    data JSONB NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT statement_timestamp()
);

-- One job per (event, subscription) still to be delivered. run_at is when the
-- job is next due; while a replica holds it, run_at is the lease expiry, so a
-- job whose replica died simply becomes due again. attempts counts claims and
-- fences the finish: a result is only recorded if attempts still matches.
CREATE TABLE ihf_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id UUID NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id UUID NOT NULL,
    payload JSONB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    claimed_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ihf_jobs_run_at_idx ON ihf_jobs (run_at);
CREATE INDEX ihf_jobs_subscription_idx ON ihf_jobs (subscription_id);

-- Redelivery and the attempt log look events up by id within a subscription.
CREATE INDEX webhook_deliveries_event_idx
    ON webhook_deliveries (webhook_subscription_id, ((payload->>'id')));

-- Subscription state the seed has no columns for.
ALTER TABLE webhook_subscriptions
    ADD COLUMN deleted_at TIMESTAMPTZ,
    ADD COLUMN previous_secret TEXT,
    ADD COLUMN previous_secret_expires_at TIMESTAMPTZ,
    ADD COLUMN failing_since TIMESTAMPTZ,
    ADD COLUMN disabled_reason TEXT,
    ADD COLUMN disabled_at TIMESTAMPTZ;

-- The doorbell's bell-push: a replica whose dispatcher is idle and waiting for
-- a NOTIFY sets waiting_until (and refreshes it while it waits). The capture
-- trigger only calls pg_notify when some row is still waiting, because every
-- notifying commit takes one cluster-wide lock and would serialize the
-- framework's writers. UNLOGGED: no WAL, and it is emptied by a crash restart,
-- which is exactly when its contents stop being true.
CREATE UNLOGGED TABLE ihf_waiters (
    replica_id UUID PRIMARY KEY,
    waiting_until TIMESTAMPTZ
);
