-- The database-only ceiling's tables (bench/ceiling/delivery.pgbench): shaped
-- like a delivery's rows, but FIXED: they do not follow the design's own
-- tables, so the ceiling stays comparable across commits and machines.
-- Change nothing here without restarting every comparison.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE ceiling_outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_type TEXT NOT NULL,
    data JSONB NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT statement_timestamp()
);
CREATE TABLE ceiling_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id UUID NOT NULL,
    payload JSONB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    run_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ceiling_jobs_due_idx ON ceiling_jobs (subscription_id, run_at);
CREATE TABLE ceiling_log (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id UUID NOT NULL,
    payload JSONB NOT NULL,
    status TEXT NOT NULL,
    response_code INTEGER,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
