#!/usr/bin/env bash
# What a capture trigger costs the framework's writers, piece by piece: how
# far below the plain insert rate any PL/pgSQL trigger can be, and what the
# outbox row's parts (its identity key and index, jsonb) add. An experiment
# beside bench/capture_overhead.sh (which measures the real triggers and the
# live service): each variant replaces the trigger on `annotations` in one
# database migrated with every migration.
#
# Variants (single-row autocommit inserts into annotations, pgbench -n):
#   plain       - the fixture alone, in its own database
#   noop        - a statement trigger whose function does nothing
#   noop_tt     - the same with a transition table (REFERENCING NEW TABLE)
#   noop_row    - a row trigger whose function does nothing
#   doorbell    - noop_tt plus the doorbell check (an advisory lock tried shared)
#   minimal     - noop_tt writing the smallest durable record of each event,
#                 (event type, the row's id), to a table with no key, no index
#                 and no JSON, with no doorbell: the floor of any capture that
#                 records the event in the writer's own transaction
#   ours        - the migrations' trigger (outbox row + doorbell check)
#   keyless     - ours, writing to an outbox with no identity key or index,
#                 data as json instead of jsonb
#   row_keyless - a row trigger writing to that keyless json outbox
#
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres), DURATION (8 s),
#      CLIENTS ("8 16"), ROUNDS (3; the mean of the rounds is reported),
#      VARIANTS (a subset of the above, in the order to run them).
# Usage (from the repo root): bench/trigger_floor.sh
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
DURATION="${DURATION:-8}"
CLIENTS="${CLIENTS:-8 16}"
ROUNDS="${ROUNDS:-3}"
VARIANTS="${VARIANTS:-noop noop_tt noop_row doorbell minimal ours keyless row_keyless}"
for v in $VARIANTS; do
    [[ " noop noop_tt noop_row doorbell minimal ours keyless row_keyless " == *" $v "* ]] \
        || { echo "unknown variant '$v'" >&2; exit 1; }
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PLAIN="ihf_trigger_floor_$$_plain"
TRIG="ihf_trigger_floor_$$"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ihf_floor.XXXXXX")"
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    for db in "$PLAIN" "$TRIG"; do q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

for db in "$PLAIN" "$TRIG"; do
    q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    q -d "$db" -f "$ROOT/sql/framework_fixture.sql" >/dev/null
done
for m in $(ls "$ROOT"/migrations/V*__*.sql | sort -V); do q -d "$TRIG" -f "$m" >/dev/null; done
q -d "$TRIG" >/dev/null <<'SQL'
CREATE TABLE floor_keyless (event_type text NOT NULL, data json NOT NULL,
                            occurred_at timestamptz NOT NULL DEFAULT statement_timestamp());
CREATE FUNCTION floor_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END; $$;
CREATE FUNCTION floor_doorbell() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(-1732109582, 1) THEN PERFORM pg_notify('ihf_events', ''); END IF;
    RETURN NULL;
END; $$;
CREATE TABLE floor_minimal (event_type text NOT NULL, row_id uuid NOT NULL);
CREATE FUNCTION floor_minimal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO floor_minimal (event_type, row_id) SELECT TG_ARGV[0], r.id FROM ihf_new_rows r;
    RETURN NULL;
END; $$;
CREATE FUNCTION floor_keyless() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO floor_keyless (event_type, data) SELECT TG_ARGV[0], to_json(r) FROM ihf_new_rows r;
    IF NOT pg_try_advisory_xact_lock_shared(-1732109582, 1) THEN PERFORM pg_notify('ihf_events', ''); END IF;
    RETURN NULL;
END; $$;
CREATE FUNCTION floor_row_keyless() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO floor_keyless (event_type, data) VALUES (TG_ARGV[0], to_json(NEW));
    IF NOT pg_try_advisory_xact_lock_shared(-1732109582, 1) THEN PERFORM pg_notify('ihf_events', ''); END IF;
    RETURN NULL;
END; $$;
SQL
echo "INSERT INTO annotations (author, body) VALUES ('bench', 'The filter widget hides the export button on narrow screens; users give up before finding it.');" > "$TMP/insert.sql"

variant() { # installs the trigger of variant $1 on annotations
    local on="AFTER INSERT ON annotations" tt="REFERENCING NEW TABLE AS ihf_new_rows"
    q -d "$TRIG" -c "DROP TRIGGER IF EXISTS ihf_capture ON annotations; DROP TRIGGER IF EXISTS floor ON annotations" >/dev/null 2>&1
    case "$1" in
        noop) q -d "$TRIG" -c "CREATE TRIGGER floor $on FOR EACH STATEMENT EXECUTE FUNCTION floor_noop()" ;;
        noop_tt) q -d "$TRIG" -c "CREATE TRIGGER floor $on $tt FOR EACH STATEMENT EXECUTE FUNCTION floor_noop()" ;;
        noop_row) q -d "$TRIG" -c "CREATE TRIGGER floor $on FOR EACH ROW EXECUTE FUNCTION floor_noop()" ;;
        doorbell) q -d "$TRIG" -c "CREATE TRIGGER floor $on $tt FOR EACH STATEMENT EXECUTE FUNCTION floor_doorbell()" ;;
        minimal) q -d "$TRIG" -c "CREATE TRIGGER floor $on $tt FOR EACH STATEMENT EXECUTE FUNCTION floor_minimal('annotation.created')" ;;
        ours) q -d "$TRIG" -c "CREATE TRIGGER ihf_capture $on $tt FOR EACH STATEMENT EXECUTE FUNCTION ihf_capture('annotation.created')" ;;
        keyless) q -d "$TRIG" -c "CREATE TRIGGER floor $on $tt FOR EACH STATEMENT EXECUTE FUNCTION floor_keyless('annotation.created')" ;;
        row_keyless) q -d "$TRIG" -c "CREATE TRIGGER floor $on FOR EACH ROW EXECUTE FUNCTION floor_row_keyless('annotation.created')" ;;
    esac >/dev/null
}
tps() { # database clients
    q -d "$1" -c "TRUNCATE annotations" >/dev/null
    [[ "$1" == "$TRIG" ]] && q -d "$TRIG" -c "TRUNCATE ihf_outbox, floor_keyless, floor_minimal" >/dev/null
    q -d "$1" -c CHECKPOINT >/dev/null
    pgbench -n -M simple -c "$2" -j 2 -T "$DURATION" -f "$TMP/insert.sql" "$1" 2>/dev/null | awk '/^tps/ {print int($3)}'
}
declare -A sum
for round in $(seq "$ROUNDS"); do
    for c in $CLIENTS; do
        sum[$c plain]=$(( ${sum[$c plain]:-0} + $(tps "$PLAIN" "$c") ))
        for v in $VARIANTS; do
            variant "$v"
            sum[$c $v]=$(( ${sum[$c $v]:-0} + $(tps "$TRIG" "$c") ))
        done
    done
    echo "round $round done" >&2
done
variant ours
printf '| writers | variant | tps (mean of %s) | vs plain |\n|---:|---|---:|---:|\n' "$ROUNDS"
for c in $CLIENTS; do
    base=$(( ${sum[$c plain]} / ROUNDS ))
    printf '| %s | plain | %s | |\n' "$c" "$base"
    for v in $VARIANTS; do
        t=$(( ${sum[$c $v]} / ROUNDS ))
        printf '| %s | %s | %s | %s %% |\n' "$c" "$v" "$t" "$(awk -v t="$t" -v b="$base" 'BEGIN { printf "%+.1f", (t - b) * 100 / b }')"
    done
done
