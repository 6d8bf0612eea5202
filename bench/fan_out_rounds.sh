#!/usr/bin/env bash
# How long one fan-out round takes in PostgreSQL alone: sql/outbox_fan_out.sql
# prepared as the worker runs it (a generic plan, JIT off, the worker's
# settings), with the plan made on an empty outbox (as after a VACUUM that saw
# it drained) or on a full one. Each round is rolled back, so every round sees
# the same outbox. Subscriptions of one consumer, one for each of the first
# SUBSCRIBED event types (all six by default); the outbox's events cycle
# through the six types, so with SUBSCRIBED=0 no event makes a job (the
# framework writing rows nobody subscribes to); every job fits (no caps).
#
# Prints one line per case: the milliseconds of each round (psql's \timing).
#
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres),
#      SQL (sql/outbox_fan_out.sql; to time another version, e.g.
#        `git show 9d89b1d:sql/outbox_fan_out.sql > /tmp/old.sql; SQL=/tmp/old.sql`),
#      SETTINGS (the worker's: "SET enable_seqscan = off;"; "" for none),
#      OUTBOX (20000 events), EVENTS ("400 50" per round), ROUNDS (6),
#      SUBSCRIBED (6: event types with a subscription, 0-6).
# Usage (from the repo root): bench/fan_out_rounds.sh
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SQL="${SQL:-$ROOT/sql/outbox_fan_out.sql}"
SETTINGS="${SETTINGS-SET enable_seqscan = off;}"
OUTBOX="${OUTBOX:-20000}"
EVENTS="${EVENTS:-400 50}"
ROUNDS="${ROUNDS:-6}"
SUBSCRIBED="${SUBSCRIBED:-6}"
[[ "$SUBSCRIBED" =~ ^[0-6]$ ]] || { echo "SUBSCRIBED must be 0-6, not '$SUBSCRIBED'" >&2; exit 2; }
DB="ihf_fan_out_rounds_$$"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ihf_fan_out.XXXXXX")"
q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

q -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
q -d "$DB" -f "$ROOT/sql/framework_fixture.sql" >/dev/null
for m in $(ls "$ROOT"/migrations/V*__*.sql | sort -V); do q -d "$DB" -f "$m" >/dev/null; done
TYPES="ARRAY['interaction_event.created', 'annotation.created', 'requirement_candidate.created',
              'decision_record.created', 'deployment_record.created', 'outcome_signal.created']"
q -d "$DB" >/dev/null <<SQL
INSERT INTO api_consumers (id, name) VALUES ('00000000-0000-0000-0000-0000000000c1', 'bench');
INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret)
SELECT '00000000-0000-0000-0000-0000000000c1', t, 'http://127.0.0.1:9/' || t, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  FROM unnest(($TYPES)[1:$SUBSCRIBED]) t;
SQL
FILL="INSERT INTO ihf_outbox (event_type, data)
      SELECT ($TYPES)[1 + g % 6], jsonb_build_object('id', gen_random_uuid(), 'body', repeat('x', 250), 'n', g)
        FROM generate_series(1, $OUTBOX) g;"
# The statement's comments go; its parameters keep their types.
STATEMENT="$(sed 's/--.*$//' "$SQL")"
ARGS="100000, 30000, '00000000-0000-0000-0000-0000000000aa', 100000, '{}', '{}', 100000, '{}', '{}', false"

# $1: events per round; $2: "empty" or "full" (the outbox when the plan is made).
rounds() {
    q -d "$DB" -c "TRUNCATE ihf_outbox" -c "VACUUM ANALYZE ihf_outbox, ihf_jobs" >/dev/null
    {
        echo "SET plan_cache_mode = force_generic_plan; SET jit = off; $SETTINGS"
        echo "PREPARE fan_out(bigint, bigint, bigint, uuid, bigint, uuid[], int[], bigint, uuid[], int[], bool) AS $STATEMENT;"
        echo '\o /dev/null'
        [ "$2" = full ] && echo "$FILL"
        # The first execution makes the generic plan.
        echo "BEGIN; EXECUTE fan_out($1, $ARGS); ROLLBACK;"
        [ "$2" = empty ] && echo "$FILL"
        echo '\timing on'
        for _ in $(seq "$ROUNDS"); do
            echo "BEGIN;"
            echo "EXECUTE fan_out($1, $ARGS);"
            echo "ROLLBACK;"
        done
    } > "$TMP/rounds.sql"
    # Of each BEGIN / EXECUTE / ROLLBACK, the EXECUTE's time.
    q -d "$DB" -f "$TMP/rounds.sql" | awk '/^Time:/ { if (++n % 3 == 2) printf "%s ", $2 } END { print "" }'
}

echo "sql: $SQL | settings: ${SETTINGS:-none} | outbox: $OUTBOX events | subscribed types: $SUBSCRIBED of 6 | ms per round:"
for events in $EVENTS; do
    for plan in empty full; do
        printf '%5s events, plan made with the outbox %-5s: ' "$events" "$plan"
        rounds "$events" "$plan"
    done
done
