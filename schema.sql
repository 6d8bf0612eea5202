-- The schema as the migrations in migrations/ leave it, with the stand-in
-- framework tables of sql/framework_fixture.sql. Generated, do not edit:
-- `IHF_WRITE_SCHEMA=1 cargo test --test it schema_sql` rewrites it, and that
-- test fails when it drifts from the migrations. Dated log partitions, made
-- at run time by partition upkeep, are left out.
-- Dumped from PostgreSQL 15

CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;

COMMENT ON EXTENSION "uuid-ossp" IS 'generate universally unique identifiers (UUIDs)';

CREATE FUNCTION public.ihf_capture() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO ihf_outbox (event_type, data)
    SELECT TG_ARGV[0], to_jsonb(r) FROM ihf_new_rows r;
    IF NOT pg_try_advisory_xact_lock_shared(-1732109582, 1) THEN
        PERFORM pg_notify('ihf_events', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION public.ihf_operator_data(subscription uuid, at timestamp with time zone) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
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

CREATE FUNCTION public.ihf_rfc3339(ts timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION public.webhook_deliveries_no_delete() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'webhook_deliveries is append-only';
END;
$$;

CREATE FUNCTION public.webhook_deliveries_no_truncate() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'webhook_deliveries is append-only: TRUNCATE is refused';
END;
$$;

CREATE FUNCTION public.webhook_deliveries_no_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'webhook_deliveries is append-only';
END;
$$;

CREATE TABLE public.annotations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    interaction_event_id uuid,
    author text,
    body text NOT NULL,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.api_consumers (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    name text NOT NULL,
    description text,
    hub_capability_manifest_id uuid,
    rate_limit_per_minute integer DEFAULT 60 NOT NULL,
    quota_per_day integer DEFAULT 10000 NOT NULL,
    quota_resets_at timestamp with time zone DEFAULT ((date_trunc('day'::text, (now() AT TIME ZONE 'UTC'::text)) + '1 day'::interval) AT TIME ZONE 'UTC'::text) NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    quota_used bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.api_keys (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    api_consumer_id uuid NOT NULL,
    key_prefix text NOT NULL,
    key_hash text NOT NULL,
    scopes text DEFAULT ''::text NOT NULL,
    token_type text DEFAULT 'static'::text NOT NULL,
    expires_at timestamp with time zone,
    revoked_at timestamp with time zone,
    last_used_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    issued_from uuid,
    CONSTRAINT api_keys_token_type_check CHECK ((token_type = ANY (ARRAY['static'::text, 'oauth'::text])))
);

CREATE TABLE public.api_request_log (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    api_consumer_id uuid,
    endpoint text NOT NULL,
    method text NOT NULL,
    status_code integer NOT NULL,
    latency_ms integer,
    requested_at timestamp with time zone DEFAULT now() NOT NULL
)
PARTITION BY RANGE (requested_at);

CREATE TABLE public.api_request_log_history (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    api_consumer_id uuid,
    endpoint text NOT NULL,
    method text NOT NULL,
    status_code integer NOT NULL,
    latency_ms integer,
    requested_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.decision_records (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    requirement_candidate_id uuid,
    decision text NOT NULL,
    rationale text,
    decided_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.deployment_records (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    decision_record_id uuid,
    environment text NOT NULL,
    version text NOT NULL,
    deployed_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.hub_capability_manifests (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    hub_name text NOT NULL,
    capabilities jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.ihf_installation (
    only_row boolean DEFAULT true NOT NULL,
    event_id_salt uuid DEFAULT gen_random_uuid() NOT NULL,
    CONSTRAINT ihf_installation_only_row_check CHECK (only_row)
);

CREATE TABLE public.ihf_jobs (
    id bigint NOT NULL,
    subscription_id uuid NOT NULL,
    event_id uuid NOT NULL,
    payload jsonb NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    claimed_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    envelope_logged boolean DEFAULT true NOT NULL
);

ALTER TABLE public.ihf_jobs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.ihf_jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.ihf_operator_exhaustions (
    subscription_id uuid NOT NULL,
    window_ends timestamp with time zone NOT NULL,
    pending integer DEFAULT 0 NOT NULL,
    first_event_id uuid,
    last_event_id uuid
);

CREATE TABLE public.ihf_operator_notifications (
    id bigint NOT NULL,
    webhook_id uuid DEFAULT gen_random_uuid() NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    data jsonb NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE public.ihf_operator_notifications ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.ihf_operator_notifications_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.ihf_outbox (
    seq bigint NOT NULL,
    event_type text NOT NULL,
    data jsonb NOT NULL,
    occurred_at timestamp with time zone DEFAULT statement_timestamp() NOT NULL
);

ALTER TABLE public.ihf_outbox ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.ihf_outbox_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.ihf_subscription_health (
    subscription_id uuid NOT NULL,
    last_success_at timestamp with time zone,
    last_failure_at timestamp with time zone,
    last_error text
);

CREATE TABLE public.interaction_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid,
    widget_id text,
    event_type text NOT NULL,
    properties jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.outcome_signals (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    deployment_record_id uuid,
    metric text NOT NULL,
    value double precision,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.refinery_schema_history (
    version integer NOT NULL,
    name character varying(255),
    applied_on character varying(255),
    checksum character varying(255)
);

CREATE TABLE public.requirement_candidates (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    title text NOT NULL,
    description text,
    priority integer,
    status text DEFAULT 'proposed'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.webhook_deliveries (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    webhook_subscription_id uuid NOT NULL,
    payload jsonb NOT NULL,
    attempted_at timestamp with time zone DEFAULT now() NOT NULL,
    status text NOT NULL,
    response_code integer,
    latency_ms integer,
    error_message text,
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
)
PARTITION BY RANGE (attempted_at);

CREATE TABLE public.webhook_deliveries_history (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    webhook_subscription_id uuid NOT NULL,
    payload jsonb NOT NULL,
    attempted_at timestamp with time zone DEFAULT now() NOT NULL,
    status text NOT NULL,
    response_code integer,
    latency_ms integer,
    error_message text,
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);

CREATE TABLE public.webhook_subscriptions (
    id uuid DEFAULT public.uuid_generate_v4() NOT NULL,
    api_consumer_id uuid NOT NULL,
    event_type text NOT NULL,
    target_url text NOT NULL,
    secret text NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    previous_secret text,
    previous_secret_expires_at timestamp with time zone,
    failing_since timestamp with time zone,
    disabled_reason text,
    disabled_at timestamp with time zone,
    headers jsonb DEFAULT '{}'::jsonb NOT NULL,
    failing_notified_at timestamp with time zone,
    CONSTRAINT webhook_subscriptions_event_type_check CHECK ((event_type = ANY (ARRAY['interaction_event.created'::text, 'annotation.created'::text, 'requirement_candidate.created'::text, 'decision_record.created'::text, 'deployment_record.created'::text, 'outcome_signal.created'::text])))
);

ALTER TABLE ONLY public.api_request_log ATTACH PARTITION public.api_request_log_history FOR VALUES FROM (MINVALUE) TO ('<migration time>');

ALTER TABLE ONLY public.webhook_deliveries ATTACH PARTITION public.webhook_deliveries_history FOR VALUES FROM (MINVALUE) TO ('<migration time>');

ALTER TABLE ONLY public.annotations
    ADD CONSTRAINT annotations_pkey PRIMARY KEY (id);

ALTER TABLE public.api_consumers
    ADD CONSTRAINT api_consumers_name_length CHECK ((char_length(name) <= 200)) NOT VALID;

ALTER TABLE ONLY public.api_consumers
    ADD CONSTRAINT api_consumers_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_request_log
    ADD CONSTRAINT api_request_log_pkey PRIMARY KEY (id, requested_at) WITH (fillfactor='100');

ALTER TABLE ONLY public.api_request_log_history
    ADD CONSTRAINT api_request_log_history_id_requested_at_key UNIQUE (id, requested_at);

ALTER TABLE ONLY public.api_request_log_history
    ADD CONSTRAINT api_request_log_history_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.decision_records
    ADD CONSTRAINT decision_records_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.deployment_records
    ADD CONSTRAINT deployment_records_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.hub_capability_manifests
    ADD CONSTRAINT hub_capability_manifests_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ihf_installation
    ADD CONSTRAINT ihf_installation_pkey PRIMARY KEY (only_row);

ALTER TABLE ONLY public.ihf_jobs
    ADD CONSTRAINT ihf_jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ihf_operator_exhaustions
    ADD CONSTRAINT ihf_operator_exhaustions_pkey PRIMARY KEY (subscription_id);

ALTER TABLE ONLY public.ihf_operator_notifications
    ADD CONSTRAINT ihf_operator_notifications_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ihf_operator_notifications
    ADD CONSTRAINT ihf_operator_notifications_webhook_id_key UNIQUE (webhook_id);

ALTER TABLE ONLY public.ihf_outbox
    ADD CONSTRAINT ihf_outbox_pkey PRIMARY KEY (seq);

ALTER TABLE ONLY public.ihf_subscription_health
    ADD CONSTRAINT ihf_subscription_health_pkey PRIMARY KEY (subscription_id);

ALTER TABLE ONLY public.interaction_events
    ADD CONSTRAINT interaction_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.outcome_signals
    ADD CONSTRAINT outcome_signals_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.refinery_schema_history
    ADD CONSTRAINT refinery_schema_history_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.requirement_candidates
    ADD CONSTRAINT requirement_candidates_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id, attempted_at) WITH (fillfactor='100');

ALTER TABLE ONLY public.webhook_deliveries_history
    ADD CONSTRAINT webhook_deliveries_history_id_attempted_at_key UNIQUE (id, attempted_at);

ALTER TABLE ONLY public.webhook_deliveries_history
    ADD CONSTRAINT webhook_deliveries_history_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_pkey PRIMARY KEY (id);

ALTER TABLE public.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_target_url_length CHECK ((char_length(target_url) <= 2048)) NOT VALID;

CREATE INDEX api_consumers_created_idx ON public.api_consumers USING btree (created_at, id);

CREATE INDEX api_consumers_manifest_idx ON public.api_consumers USING btree (hub_capability_manifest_id);

CREATE INDEX api_keys_consumer_created_idx ON public.api_keys USING btree (api_consumer_id, created_at, id);

CREATE INDEX api_keys_consumer_idx ON public.api_keys USING btree (api_consumer_id);

CREATE INDEX api_keys_hash_idx ON public.api_keys USING btree (key_hash);

CREATE INDEX api_keys_issued_from_idx ON public.api_keys USING btree (issued_from) WHERE (issued_from IS NOT NULL);

CREATE INDEX api_keys_oauth_expiry_idx ON public.api_keys USING btree (expires_at) WHERE (token_type = 'oauth'::text);

CREATE UNIQUE INDEX api_keys_prefix_idx ON public.api_keys USING btree (key_prefix);

CREATE INDEX api_request_log_consumer_time_idx ON ONLY public.api_request_log USING btree (api_consumer_id, requested_at) WITH (fillfactor='100');

CREATE INDEX api_request_log_history_consumer_time_idx ON public.api_request_log_history USING btree (api_consumer_id, requested_at);

CREATE INDEX ihf_jobs_lease_expiry_idx ON public.ihf_jobs USING btree (run_at) WHERE (claimed_by IS NOT NULL);

CREATE INDEX ihf_jobs_waiting_idx ON public.ihf_jobs USING btree (subscription_id, run_at) WHERE (claimed_by IS NULL);

CREATE INDEX ihf_operator_exhaustions_due_idx ON public.ihf_operator_exhaustions USING btree (window_ends) WHERE (pending > 0);

CREATE INDEX ihf_operator_notifications_run_at_idx ON public.ihf_operator_notifications USING btree (run_at);

CREATE INDEX webhook_deliveries_event_idx ON ONLY public.webhook_deliveries USING btree ((((payload ->> 'id'::text))::uuid)) WITH (fillfactor='100');

CREATE INDEX webhook_deliveries_history_event_idx ON public.webhook_deliveries_history USING btree ((((payload ->> 'id'::text))::uuid));

CREATE INDEX webhook_deliveries_sub_idx ON ONLY public.webhook_deliveries USING btree (webhook_subscription_id, attempted_at) WITH (fillfactor='100');

CREATE INDEX webhook_deliveries_history_sub_idx ON public.webhook_deliveries_history USING btree (webhook_subscription_id, attempted_at);

CREATE INDEX webhook_subs_consumer_idx ON public.webhook_subscriptions USING btree (api_consumer_id);

CREATE INDEX webhook_subs_event_type_idx ON public.webhook_subscriptions USING btree (event_type);

CREATE INDEX webhook_subs_failing_idx ON public.webhook_subscriptions USING btree (failing_since) WHERE ((failing_since IS NOT NULL) AND (failing_notified_at IS NULL));

ALTER INDEX public.api_request_log_consumer_time_idx ATTACH PARTITION public.api_request_log_history_consumer_time_idx;

ALTER INDEX public.api_request_log_pkey ATTACH PARTITION public.api_request_log_history_id_requested_at_key;

ALTER INDEX public.webhook_deliveries_event_idx ATTACH PARTITION public.webhook_deliveries_history_event_idx;

ALTER INDEX public.webhook_deliveries_pkey ATTACH PARTITION public.webhook_deliveries_history_id_attempted_at_key;

ALTER INDEX public.webhook_deliveries_sub_idx ATTACH PARTITION public.webhook_deliveries_history_sub_idx;

CREATE TRIGGER ihf_capture AFTER INSERT ON public.annotations REFERENCING NEW TABLE AS ihf_new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.ihf_capture('annotation.created');

CREATE TRIGGER ihf_capture AFTER INSERT ON public.decision_records REFERENCING NEW TABLE AS ihf_new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.ihf_capture('decision_record.created');

CREATE TRIGGER ihf_capture AFTER INSERT ON public.deployment_records REFERENCING NEW TABLE AS ihf_new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.ihf_capture('deployment_record.created');

CREATE TRIGGER ihf_capture AFTER INSERT ON public.interaction_events REFERENCING NEW TABLE AS ihf_new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.ihf_capture('interaction_event.created');

CREATE TRIGGER ihf_capture AFTER INSERT ON public.outcome_signals REFERENCING NEW TABLE AS ihf_new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.ihf_capture('outcome_signal.created');

CREATE TRIGGER ihf_capture AFTER INSERT ON public.requirement_candidates REFERENCING NEW TABLE AS ihf_new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.ihf_capture('requirement_candidate.created');

CREATE TRIGGER webhook_deliveries_no_delete BEFORE DELETE ON public.webhook_deliveries FOR EACH ROW EXECUTE FUNCTION public.webhook_deliveries_no_delete();

CREATE TRIGGER webhook_deliveries_no_truncate BEFORE TRUNCATE ON public.webhook_deliveries FOR EACH STATEMENT EXECUTE FUNCTION public.webhook_deliveries_no_truncate();

CREATE TRIGGER webhook_deliveries_no_truncate BEFORE TRUNCATE ON public.webhook_deliveries_history FOR EACH STATEMENT EXECUTE FUNCTION public.webhook_deliveries_no_truncate();

CREATE TRIGGER webhook_deliveries_no_update BEFORE UPDATE ON public.webhook_deliveries FOR EACH ROW EXECUTE FUNCTION public.webhook_deliveries_no_update();

ALTER TABLE ONLY public.api_consumers
    ADD CONSTRAINT api_consumers_hub_capability_manifest_id_fkey FOREIGN KEY (hub_capability_manifest_id) REFERENCES public.hub_capability_manifests(id);

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_api_consumer_id_fkey FOREIGN KEY (api_consumer_id) REFERENCES public.api_consumers(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_issued_from_fkey FOREIGN KEY (issued_from) REFERENCES public.api_keys(id) ON DELETE CASCADE;

ALTER TABLE public.api_request_log
    ADD CONSTRAINT api_request_log_api_consumer_id_fkey FOREIGN KEY (api_consumer_id) REFERENCES public.api_consumers(id);

ALTER TABLE public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_webhook_subscription_id_fkey FOREIGN KEY (webhook_subscription_id) REFERENCES public.webhook_subscriptions(id);

ALTER TABLE ONLY public.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_api_consumer_id_fkey FOREIGN KEY (api_consumer_id) REFERENCES public.api_consumers(id) ON DELETE CASCADE;
