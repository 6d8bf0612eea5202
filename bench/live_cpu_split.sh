#!/usr/bin/env bash
# Where the CPU goes while the service runs beside the framework's writers:
# the share of the service's own process, of its database sessions, and of
# the writers' sessions, over one pgbench run of single-row autocommit
# INSERTs into annotations (the workload of bench/capture_overhead.sh, live
# mode: no subscriptions, so every event is fanned out to nobody).
#
# Prints pgbench's tps and, in jiffies (1/100 s of one CPU) over the run:
# the service process, its PostgreSQL sessions (application_name ihf-*), the
# writers' sessions, and the machine's busy total.
#
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres),
#      IHF_BIN (target/release/ihf-webhooks), CLIENTS (8), DURATION (10 s),
#      RATE (unset: as fast as the writers go; else pgbench --rate, in tps).
# Usage (from the repo root): bench/live_cpu_split.sh
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IHF_BIN="${IHF_BIN:-$ROOT/target/release/ihf-webhooks}"
CLIENTS="${CLIENTS:-8}"
DURATION="${DURATION:-10}"
RATE="${RATE:-}"
[[ -x "$IHF_BIN" ]] || { echo "$IHF_BIN not built (cargo build --release)" >&2; exit 1; }
DB="ihf_live_cpu_$$"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ihf_live_cpu.XXXXXX")"
SVC_PID=""
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    [[ -n "$SVC_PID" ]] && { kill -TERM "$SVC_PID" 2>/dev/null; wait "$SVC_PID" 2>/dev/null || true; }
    q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

q -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
q -d "$DB" -f "$ROOT/sql/framework_fixture.sql" >/dev/null
for m in $(ls "$ROOT"/migrations/V*__*.sql | sort -V); do
    PGOPTIONS="-c client_min_messages=warning" q -d "$DB" -f "$m" >/dev/null
done
cat > "$TMP/insert.sql" <<'SQL'
INSERT INTO annotations (author, body) VALUES ('bench', 'The filter widget hides the export button on narrow screens; users give up before finding it.');
SQL

DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" IHF_LISTEN="127.0.0.1:$(( 20000 + RANDOM % 20000 ))" \
    IHF_DB_POOL_SIZE=4 RUST_LOG=warn "$IHF_BIN" serve >"$TMP/service.log" 2>&1 &
SVC_PID=$!
for _ in $(seq 100); do
    [[ "$(q -d "$DB" -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND application_name = 'ihf-webhooks-listener'")" != 0 ]] && break
    kill -0 "$SVC_PID" 2>/dev/null || { cat "$TMP/service.log" >&2; exit 1; }
    sleep 0.1
done

jiffies() { # pid... -> utime+stime summed (0 for a process that is gone)
    local total=0 line F pid
    for pid in "$@"; do
        { read -r line < "/proc/$pid/stat"; } 2>/dev/null || continue
        read -r -a F <<<"${line##*) }"
        total=$(( total + F[11] + F[12] ))
    done
    echo "$total"
}
busy() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6; exit}' /proc/stat; }
sessions() { # "ihf" or "writers": pids of this database's client sessions
    local filter="application_name LIKE 'ihf%'"
    [[ "$1" == writers ]] && filter="application_name = 'pgbench'"
    q -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND $filter"
}

# A short warm-up, then an empty start.
pgbench -n -c "$CLIENTS" -j 2 -T 1 -f "$TMP/insert.sql" "$DB" >/dev/null 2>&1
q -d "$DB" -c "TRUNCATE annotations, ihf_outbox" -c "CHECKPOINT" >/dev/null
mapfile -t SERVICE_SESSIONS < <(sessions ihf)
svc0=$(jiffies "$SVC_PID"); ses0=$(jiffies "${SERVICE_SESSIONS[@]}"); busy0=$(busy)
pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" ${RATE:+--rate "$RATE"} -f "$TMP/insert.sql" "$DB" \
    >"$TMP/pgbench.out" 2>&1 &
PGBENCH=$!
sleep 0.5
mapfile -t WRITERS < <(sessions writers)
wri0=$(jiffies "${WRITERS[@]}")
wri_last=$wri0
# The writers' sessions end with pgbench: sample them until then.
while kill -0 "$PGBENCH" 2>/dev/null; do
    now=$(jiffies "${WRITERS[@]}")
    (( now > wri_last )) && wri_last=$now
    sleep 0.2
done
wait "$PGBENCH" || { cat "$TMP/pgbench.out" >&2; exit 1; }
svc1=$(jiffies "$SVC_PID"); ses1=$(jiffies "${SERVICE_SESSIONS[@]}"); busy1=$(busy)
grep -E '^tps' "$TMP/pgbench.out"
echo "jiffies over the run: service process $(( svc1 - svc0 )), its database sessions $(( ses1 - ses0 )), writers' sessions $(( wri_last - wri0 )) (from 0.5 s in, up to 0.2 s before the end), busy total $(( busy1 - busy0 )) of $(( $(getconf _NPROCESSORS_ONLN) * 100 * DURATION ))"
