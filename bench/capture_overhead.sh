#!/usr/bin/env bash
# Capture-trigger overhead on the framework's write path, measured with pgbench.
#
# Workload: single-row autocommit INSERTs into annotations (one row per
# transaction), at 1, 8 and 16 clients (-j min(N,2)), -n, for DURATION seconds.
#
# Modes:
#   plain     - a database with only sql/framework_fixture.sql (no ihf objects)
#   triggers  - fixture + V1..V3; ihf_waiters empty, so the trigger never notifies
#   waiting   - as triggers, plus one ihf_waiters row with waiting_until = now()+1 day,
#               so every insert calls pg_notify (cost of the doorbell while a worker idles)
#   always    - as triggers, with ihf_capture() replaced by a version that always
#               calls pg_notify (reference: the cost the waiters check avoids)
#
# Fairness: plain lives in its own fresh database (fixture only); the other three
# modes share a second fresh database and are switched by changing the waiter row
# / function. For every client count the four modes run back to back (interleaved,
# so slow drift such as a concurrent compile spreads over all modes), and before
# every single run the source tables and ihf_outbox are truncated and a CHECKPOINT
# is taken, so each run starts from empty tables and a fresh checkpoint.
#
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres), DURATION (10 s),
#      CLIENTS ("1 8 16"), ROUNDS (1; >1 repeats everything and reports the median),
#      PROTOCOL (pgbench -M: simple), OUT_JSON (optional path for JSON results).
#
# Usage (from the repo root): bench/capture_overhead.sh
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-1 8 16}"
ROUNDS="${ROUNDS:-1}"
PROTOCOL="${PROTOCOL:-simple}"
OUT_JSON="${OUT_JSON:-}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIXTURE="$ROOT/sql/framework_fixture.sql"
MIGRATIONS=("$ROOT/migrations/V1__phase9_external_api.sql"
            "$ROOT/migrations/V2__delivery_pipeline.sql"
            "$ROOT/migrations/V3__capture_triggers.sql")
for f in "$FIXTURE" "${MIGRATIONS[@]}"; do
    [[ -r "$f" ]] || { echo "missing $f" >&2; exit 1; }
done
command -v pgbench >/dev/null || { echo "pgbench not found" >&2; exit 1; }

DB_PLAIN="ihf_bench_capture_$$_plain"
DB_TRIG="ihf_bench_capture_$$"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ihf_bench.XXXXXX")"

log() { printf '%s\n' "$*" >&2; }
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
psql_db() { local db="$1"; shift; psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

cleanup() {
    local rc=$?
    for db in "$DB_PLAIN" "$DB_TRIG"; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
            || log "warning: could not drop database $db"
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- setup -----------------------------------------------------------------
log "creating $DB_PLAIN (fixture only) and $DB_TRIG (fixture + V1..V3)"
psql_admin -c "CREATE DATABASE \"$DB_PLAIN\"" >/dev/null
psql_admin -c "CREATE DATABASE \"$DB_TRIG\"" >/dev/null
psql_db "$DB_PLAIN" -f "$FIXTURE" >/dev/null
psql_db "$DB_TRIG" -f "$FIXTURE" >/dev/null
for m in "${MIGRATIONS[@]}"; do
    psql_db "$DB_TRIG" -f "$m" >/dev/null
done

# The function exactly as V3 installed it, to restore after "always".
psql_db "$DB_TRIG" -At -c "SELECT pg_get_functiondef('ihf_capture()'::regprocedure)" \
    > "$TMP/ihf_capture_v3.sql"
echo ';' >> "$TMP/ihf_capture_v3.sql"
cat > "$TMP/ihf_capture_always.sql" <<'SQL'
CREATE OR REPLACE FUNCTION ihf_capture() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ihf_outbox (event_type, data)
    SELECT TG_ARGV[0], to_jsonb(r) FROM ihf_new_rows r;
    PERFORM pg_notify('ihf_events', '');
    RETURN NULL;
END;
$$;
SQL

# One ~100-byte annotation per transaction, autocommit.
cat > "$TMP/insert_annotation.sql" <<'SQL'
INSERT INTO annotations (author, body) VALUES ('bench', 'The filter widget hides the export button on narrow screens; users give up before finding it.');
SQL

SOURCE_TABLES="interaction_events, annotations, requirement_candidates, decision_records, deployment_records, outcome_signals"

set_mode() {
    case "$1" in
        plain) ;;
        triggers)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_v3.sql" >/dev/null
            psql_db "$DB_TRIG" -c "DELETE FROM ihf_waiters" >/dev/null ;;
        waiting)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_v3.sql" >/dev/null
            psql_db "$DB_TRIG" -c "DELETE FROM ihf_waiters;
                INSERT INTO ihf_waiters (replica_id, waiting_until)
                VALUES (gen_random_uuid(), now() + interval '1 day')" >/dev/null ;;
        always)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_always.sql" >/dev/null
            psql_db "$DB_TRIG" -c "DELETE FROM ihf_waiters" >/dev/null ;;
    esac
}

reset_tables() {
    local db="$1" extra=""
    [[ "$db" == "$DB_TRIG" ]] && extra=", ihf_outbox"
    psql_db "$db" -c "TRUNCATE $SOURCE_TABLES$extra" >/dev/null
    psql_db "$db" -c "CHECKPOINT" >/dev/null 2>&1 || true
}

run_pgbench() { # db clients -> tps
    local db="$1" c="$2" j out
    j=$(( c < 2 ? c : 2 ))
    out="$(pgbench -n -M "$PROTOCOL" -c "$c" -j "$j" -T "$DURATION" \
        -f "$TMP/insert_annotation.sql" "$db" 2>"$TMP/pgbench.err")" || {
        cat "$TMP/pgbench.err" >&2; echo "$out" >&2; return 1; }
    local failed
    failed="$(awk '/number of failed transactions:/ {print $5}' <<<"$out")"
    [[ -z "$failed" || "$failed" == 0 ]] || log "warning: $failed failed transactions ($db, c=$c)"
    awk '/^tps = / {print $3; exit}' <<<"$out"
}

median() { # numbers on stdin
    sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'
}

MODES=(plain triggers waiting always)
declare -A SAMPLES=()

log "server: $(psql_admin -At -c "SELECT current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', fsync=' || current_setting('fsync')")"
log "duration ${DURATION}s per run, clients: $CLIENTS, rounds: $ROUNDS, protocol: $PROTOCOL, load avg: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CLIENTS; do
        for mode in "${MODES[@]}"; do
            db="$DB_TRIG"; [[ "$mode" == plain ]] && db="$DB_PLAIN"
            set_mode "$mode"
            reset_tables "$db"
            tps="$(run_pgbench "$db" "$c")"
            [[ -n "$tps" ]] || { log "could not parse tps"; exit 1; }
            SAMPLES[$mode,$c]="${SAMPLES[$mode,$c]:-} $tps"
            if [[ "$mode" != plain ]]; then
                outbox="$(psql_db "$db" -At -c "SELECT count(*) FROM ihf_outbox")"
                rows="$(psql_db "$db" -At -c "SELECT count(*) FROM annotations")"
                [[ "$outbox" == "$rows" ]] || log "warning: $rows annotations but $outbox outbox rows ($mode, c=$c)"
            fi
            log "round $r  clients $c  $(printf '%-8s' "$mode") tps $tps"
        done
    done
done
set_mode triggers

# --- report ----------------------------------------------------------------
tps_of() { tr ' ' '\n' <<<"${SAMPLES[$1,$2]}" | grep -v '^$' | median; }
overhead() { awk -v p="$1" -v x="$2" 'BEGIN {printf "%.1f", (p - x) / p * 100}'; }
fmt() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }

echo
echo "| writers | plain tps | with triggers tps (overhead %) | triggers + idle worker waiting (overhead %) | always-notify tps (overhead %) |"
echo "|---:|---:|---:|---:|---:|"
json_rows=()
for c in $CLIENTS; do
    p="$(tps_of plain "$c")"; t="$(tps_of triggers "$c")"
    w="$(tps_of waiting "$c")"; a="$(tps_of always "$c")"
    echo "| $c | $(fmt "$p") | $(fmt "$t") ($(overhead "$p" "$t")%) | $(fmt "$w") ($(overhead "$p" "$w")%) | $(fmt "$a") ($(overhead "$p" "$a")%) |"
    samples_json() { sed -e 's/^ *//' -e 's/ \+/, /g' <<<"${SAMPLES[$1,$c]}"; }
    json_rows+=("    {\"clients\": $c, \"plain_tps\": $p, \"triggers_tps\": $t, \"waiting_tps\": $w, \"always_notify_tps\": $a, \"triggers_overhead_pct\": $(overhead "$p" "$t"), \"waiting_overhead_pct\": $(overhead "$p" "$w"), \"always_notify_overhead_pct\": $(overhead "$p" "$a"), \"samples\": {\"plain\": [$(samples_json plain)], \"triggers\": [$(samples_json triggers)], \"waiting\": [$(samples_json waiting)], \"always_notify\": [$(samples_json always)]}}")
done
echo
echo "Overhead = (plain - mode) / plain; single-row autocommit INSERTs into annotations, ${DURATION}s per run, median of $ROUNDS round(s)."

if [[ -n "$OUT_JSON" ]]; then
    {
        echo "{"
        echo "  \"duration_s\": $DURATION, \"rounds\": $ROUNDS, \"protocol\": \"$PROTOCOL\","
        echo "  \"results\": ["
        for i in "${!json_rows[@]}"; do
            sep=","; (( i == ${#json_rows[@]} - 1 )) && sep=""
            echo "${json_rows[$i]}$sep"
        done
        echo "  ]"
        echo "}"
    } > "$OUT_JSON"
    log "wrote $OUT_JSON"
fi
