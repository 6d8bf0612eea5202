#!/usr/bin/env bash
# What capture by logical decoding would cost the framework's writers, next to
# what the capture triggers cost them: the evidence for the design choice
# written up in PERFORMANCE.md ("The host cost's floor").
# Nothing in the service decodes the WAL; this measures the alternative.
#
# Workload: the one of bench/capture_overhead.sh (single-row autocommit
# INSERTs into annotations, pgbench -n -M simple, -j 2). Modes, each in its
# own fresh database, run back to back in a rotating order every round:
#   plain     - the fixture alone (sql/framework_fixture.sql)
#   triggers  - the fixture and every migration (the capture triggers; no
#               service runs, so nothing drains the outbox)
#   decoding  - the fixture alone, a publication of the six source tables and
#               a logical replication slot (pgoutput, the plugin a consumer of
#               the replication protocol would use), streamed while pgbench
#               runs by pg_recvlogical into /dev/null: the capture alone, with
#               its decoding on the same cores as the writers, as the service
#               would have it (and, like the service's live mode without
#               subscriptions, nothing made of the events)
# Besides the writers' tps, it reports the decoding's own CPU (walsender and
# pg_recvlogical) as a share of the machine's while pgbench runs.
#
# Needs wal_level=logical, which takes a server restart (the script refuses to
# run otherwise and says how to set it), and a user with the REPLICATION
# attribute (a superuser has it) whom pg_hba.conf lets connect to the
# database. The slot is dropped at the end (a slot
# left behind keeps the server's WAL forever).
#
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres), DURATION (10 s),
#      CLIENTS ("8 16"), ROUNDS (3; the median of the rounds is reported).
# Usage (from the repo root): bench/capture_by_decoding.sh
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-8 16}"
ROUNDS="${ROUNDS:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

level="$(q -d postgres -At -c "SHOW wal_level")"
if [[ "$level" != logical ]]; then
    echo "wal_level is $level; this benchmark needs logical:" >&2
    echo "  psql -c \"ALTER SYSTEM SET wal_level = logical\" && pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main restart" >&2
    exit 1
fi

PLAIN="ihf_decoding_$$_plain"
TRIG="ihf_decoding_$$_triggers"
DEC="ihf_decoding_$$_decoding"
SLOT="ihf_decoding_$$"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ihf_decoding.XXXXXX")"
DRAINER=""
cleanup() {
    [[ -n "$DRAINER" ]] && { kill -INT "$DRAINER" 2>/dev/null; wait "$DRAINER" 2>/dev/null || true; }
    q -d postgres -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots
                      WHERE slot_name = '$SLOT'" >/dev/null 2>&1 \
        || echo "warning: could not drop the replication slot $SLOT: drop it by hand" >&2
    for db in "$PLAIN" "$TRIG" "$DEC"; do
        q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for db in "$PLAIN" "$TRIG" "$DEC"; do
    q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    q -d "$db" -f "$ROOT/sql/framework_fixture.sql" >/dev/null
done
for m in $(ls "$ROOT"/migrations/V*__*.sql | sort -V); do
    PGOPTIONS="-c client_min_messages=warning" q -d "$TRIG" -f "$m" >/dev/null
done
q -d "$DEC" -c "CREATE PUBLICATION ihf_capture FOR TABLE interaction_events, annotations,
                  requirement_candidates, decision_records, deployment_records, outcome_signals" >/dev/null
q -d "$DEC" -c "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null
cat > "$TMP/insert.sql" <<'SQL'
INSERT INTO annotations (author, body) VALUES ('bench', 'The filter widget hides the export button on narrow screens; users give up before finding it.');
SQL

# pg_recvlogical streams the slot's changes over the replication protocol for
# as long as it runs, as a capturing service would (the walsender decodes,
# the client receives and confirms); the changes go to /dev/null.
start_drainer() {
    pg_recvlogical -d "$DEC" --slot "$SLOT" --start -o proto_version=1 -o publication_names=ihf_capture \
        -s 1 -F 1 -f /dev/null 2>"$TMP/drainer.err" &
    DRAINER=$!
    local i
    for i in $(seq 50); do
        [[ "$(q -d postgres -At -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'")" == t ]] && return 0
        kill -0 "$DRAINER" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/drainer.err" >&2
    echo "pg_recvlogical did not start streaming: $PGUSER needs the REPLICATION attribute," \
         "and pg_hba.conf must let it connect to $DEC" >&2
    exit 1
}
stop_drainer() {
    kill -INT "$DRAINER" 2>/dev/null || true
    wait "$DRAINER" 2>/dev/null || true
    DRAINER=""
}
lag_bytes() { q -d "$DEC" -At -c "SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }

prepare() { # database: every run starts from empty tables and a fresh checkpoint
    q -d "$1" -c "TRUNCATE annotations" >/dev/null
    [[ "$1" == "$TRIG" ]] && q -d "$1" -c "TRUNCATE ihf_outbox" >/dev/null
    q -d "$1" -c CHECKPOINT >/dev/null
}
tps() { # database clients -> tps
    pgbench -n -M simple -c "$2" -j 2 -T "$DURATION" -f "$TMP/insert.sql" "$1" 2>/dev/null \
        | awk '/^tps/ {print $3; exit}'
}
# CPU in jiffies: of one process (0 once it is gone, or if the server is on
# another host), and of the whole machine.
cpu_of() { { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; } 2>/dev/null || echo 0; }
cpu_all() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t; exit}' /proc/stat; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

MODES=(plain triggers decoding)
declare -A SAMPLES=() DECODING_SHARE=()
for r in $(seq "$ROUNDS"); do
    for c in $CLIENTS; do
        for ((k = 0; k < ${#MODES[@]}; k++)); do
            mode="${MODES[$(( (k + r - 1) % ${#MODES[@]} ))]}"
            case "$mode" in
                plain) prepare "$PLAIN"; t="$(tps "$PLAIN" "$c")" ;;
                triggers) prepare "$TRIG"; t="$(tps "$TRIG" "$c")" ;;
                decoding)
                    prepare "$DEC"
                    start_drainer
                    walsender="$(q -d postgres -At -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$SLOT'")"
                    w0="$(cpu_of "$walsender")"; d0="$(cpu_of "$DRAINER")"; m0="$(cpu_all)"
                    t="$(tps "$DEC" "$c")"
                    w1="$(cpu_of "$walsender")"; d1="$(cpu_of "$DRAINER")"; m1="$(cpu_all)"
                    lag="$(lag_bytes)"
                    stop_drainer
                    share="$(awk -v w=$(( w1 - w0 )) -v d=$(( d1 - d0 )) -v m=$(( m1 - m0 )) \
                                 'BEGIN {printf "%.1f", (m > 0) ? 100 * (w + d) / m : 0}')"
                    DECODING_SHARE[$c]="${DECODING_SHARE[$c]:-} $share"
                    echo "round $r  clients $c  decoding: walsender $(( w1 - w0 )) and pg_recvlogical $(( d1 - d0 )) jiffies of the machine's $(( m1 - m0 )) ($share %);" \
                         "the slot was $lag bytes behind the WAL at the end" >&2 ;;
            esac
            echo "round $r  clients $c  $(printf '%-9s' "$mode") tps $t" >&2
            SAMPLES[$mode,$c]="${SAMPLES[$mode,$c]:-} $t"
        done
    done
done

echo
echo "| writers | plain tps | capture triggers | capture by logical decoding (pgoutput, streamed by pg_recvlogical) |"
echo "|---:|---:|---:|---:|"
for c in $CLIENTS; do
    p="$(tr ' ' '\n' <<<"${SAMPLES[plain,$c]}" | grep -v '^$' | median)"
    line="| $c | $(printf '%.0f' "$p") |"
    for mode in triggers decoding; do
        x="$(tr ' ' '\n' <<<"${SAMPLES[$mode,$c]}" | grep -v '^$' | median)"
        line+=" $(awk -v x="$x" -v p="$p" 'BEGIN {printf "%.0f (%.1f %%)", x, (p - x) / p * 100}') |"
    done
    echo "$line"
done
echo
echo "Overhead = (plain - mode) / plain; ${DURATION} s per run, median of $ROUNDS round(s); wal_level=logical for all modes."
echo "The decoding's own CPU (walsender and pg_recvlogical, share of the whole machine during pgbench; 0 if the server is on another host), median:$(
    for c in $CLIENTS; do printf ' %s writers %s %%,' "$c" "$(tr ' ' '\n' <<<"${DECODING_SHARE[$c]}" | grep -v '^$' | median)"; done | sed 's/,$//')."
