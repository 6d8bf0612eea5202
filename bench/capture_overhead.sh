#!/usr/bin/env bash
# Capture-trigger overhead on the framework's write path, measured with pgbench.
#
# Workload: single-row autocommit INSERTs into annotations (one row per
# transaction), at 1, 8 and 16 clients (-j min(N,2)), -n, for DURATION seconds.
#
# Modes:
#   plain     - a database with only sql/framework_fixture.sql (no ihf objects)
#   outbox    - as triggers, with ihf_capture() reduced to the outbox INSERT (no
#               doorbell check at all): the durable record alone, the baseline the
#               wake-up design is judged against (issue 2: "a statement-level outbox
#               trigger alone ..."); triggers vs outbox is what the doorbell costs
#   triggers  - fixture + every migration; nobody holds the doorbell lock, so the
#               trigger never notifies (the framework's cost while the worker is busy
#               or absent)
#   live      - as triggers, with the real service running against the database
#               (IHF_BIN, default target/release/ihf-webhooks; the mode is skipped
#               when it is not built): its dispatcher drains the outbox (no
#               subscriptions, so every event is fanned out to nobody), arms the
#               doorbell once it has found nothing for 5 ms and disarms when rung. The framework's
#               throughput with the whole service beside it, drain CPU included.
#   waiting   - as triggers, while another session holds the doorbell lock as an
#               idle worker does, so every insert calls pg_notify (the cost of the
#               doorbell in the moments a worker idles)
#   always    - as triggers, with ihf_capture() replaced by a version that always
#               calls pg_notify (reference: the cost the doorbell lock avoids)
#
# Fairness:
#   * plain lives in its own fresh database (fixture only); the other modes
#     share a second fresh database and are switched by taking the doorbell lock
#     in a background session / replacing the function. Both databases get the same warm-up before the first measurement.
#   * Before every single run the source tables (and ihf_outbox) are truncated and a
#     CHECKPOINT is taken, so every run of every mode starts from empty tables and a
#     fresh checkpoint (same full-page-write pattern).
#   * For every client count the modes run back to back, and their order rotates
#     from round to round, so no mode always runs first or last and slow drift
#     (a concurrent compile, checkpoints of other databases) spreads over all modes.
#   * ROUNDS (default 3) repeats everything; the table shows the median tps of each
#     mode and the overhead of the medians, followed by the median (and range) of
#     the per-round paired overheads, which is less sensitive to drift.
#   * This is a CPU-bound benchmark on small machines, so other load matters. Before
#     each run the script waits (at most IDLE_WAIT s) for the CPUs to be >= IDLE_MIN %
#     idle. If the server runs on this host (its postmaster is visible in /proc), the
#     CPU used during a run by processes other than PostgreSQL and pgbench is measured
#     ("foreign CPU"). Busy sessions of other databases on the same server are sampled
#     every second. A run with more than NOISE_MAX % of all CPUs foreign, or more than
#     OTHER_MAX busy sessions of other databases on average, is repeated up to
#     NOISE_RETRIES times; runs kept although disturbed are counted.
#
# Env: PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres), DURATION (10 s),
#      CLIENTS ("1 8 16"), ROUNDS (3; the median is reported),
#      PROTOCOL (pgbench -M: simple), OUT_JSON (optional path for JSON results),
#      WARMUP (3 s, per database, before the first round; 0 disables),
#      IDLE_MIN (80 %), IDLE_WAIT (30 s; 0 disables waiting),
#      NOISE_MAX (15 % of all CPUs), OTHER_MAX (0.5 sessions), NOISE_RETRIES (1),
#      IHF_BIN (the service binary for the live mode), MODES (a subset, e.g. "plain outbox triggers").
#
# Usage (from the repo root): bench/capture_overhead.sh
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-1 8 16}"
ROUNDS="${ROUNDS:-3}"
PROTOCOL="${PROTOCOL:-simple}"
OUT_JSON="${OUT_JSON:-}"
WARMUP="${WARMUP:-3}"
IDLE_MIN="${IDLE_MIN:-80}"
IDLE_WAIT="${IDLE_WAIT:-30}"
NOISE_MAX="${NOISE_MAX:-15}"
NOISE_RETRIES="${NOISE_RETRIES:-1}"
OTHER_MAX="${OTHER_MAX:-0.5}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIXTURE="$ROOT/sql/framework_fixture.sql"
mapfile -t MIGRATIONS < <(ls "$ROOT"/migrations/V*__*.sql | sort -V)
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
    declare -F stop_waiter >/dev/null && stop_waiter
    declare -F stop_service >/dev/null && stop_service
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
# Both databases are created the same way from the same template; the trigger
# database additionally gets every migration.
log "creating $DB_PLAIN (fixture only) and $DB_TRIG (fixture + ${#MIGRATIONS[@]} migrations)"
psql_admin -c "CREATE DATABASE \"$DB_PLAIN\" TEMPLATE template1" >/dev/null
psql_admin -c "CREATE DATABASE \"$DB_TRIG\" TEMPLATE template1" >/dev/null
psql_db "$DB_PLAIN" -f "$FIXTURE" >/dev/null
psql_db "$DB_TRIG" -f "$FIXTURE" >/dev/null
for m in "${MIGRATIONS[@]}"; do
    psql_db "$DB_TRIG" -f "$m" >/dev/null
done
for db in "$DB_PLAIN" "$DB_TRIG"; do
    psql_db "$db" -c "VACUUM ANALYZE" >/dev/null
done

# The function exactly as the migrations installed it, to restore after "always".
psql_db "$DB_TRIG" -At -c "SELECT pg_get_functiondef('ihf_capture()'::regprocedure)" \
    > "$TMP/ihf_capture_current.sql"
echo ';' >> "$TMP/ihf_capture_current.sql"
# Variants of the capture function: the outbox INSERT, then $1 (a doorbell
# statement, or nothing).
capture_variant() {
    printf '%s\n' "CREATE OR REPLACE FUNCTION ihf_capture() RETURNS TRIGGER LANGUAGE plpgsql AS \$\$" \
        "BEGIN" \
        "    INSERT INTO ihf_outbox (event_type, data)" \
        "    SELECT TG_ARGV[0], to_jsonb(r) FROM ihf_new_rows r;" \
        "${1:-}" \
        "    RETURN NULL;" \
        "END;" \
        "\$\$;"
}
capture_variant "    PERFORM pg_notify('ihf_events', '');" > "$TMP/ihf_capture_always.sql"
capture_variant > "$TMP/ihf_capture_outbox.sql"

# One ~100-byte annotation per transaction, autocommit.
cat > "$TMP/insert_annotation.sql" <<'SQL'
INSERT INTO annotations (author, body) VALUES ('bench', 'The filter widget hides the export button on narrow screens; users give up before finding it.');
SQL

SOURCE_TABLES="interaction_events, annotations, requirement_candidates, decision_records, deployment_records, outcome_signals"

# An idle worker holds this advisory lock on its LISTEN connection (migrations/V7).
DOORBELL_LOCK="-1732109582, 1"
WAITER_PID=""
WAITER_APP="ihf_bench_doorbell_waiter"
wait_for_doorbell() { # application_name pid: until that session holds the doorbell lock (10 s)
    local i
    for i in $(seq 100); do
        [[ "$(psql_db "$DB_TRIG" -At -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.mode = 'ExclusiveLock' AND l.granted AND l.objid = 1
                AND l.classid = (${DOORBELL_LOCK%%,*})::oid AND a.application_name = '$1'")" == 1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop_waiter() {
    [[ -n "$WAITER_PID" ]] || return 0
    # Killing psql alone would leave its backend asleep, still holding the lock.
    psql_admin -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name = '$WAITER_APP'" >/dev/null 2>&1 || true
    kill "$WAITER_PID" 2>/dev/null || true
    wait "$WAITER_PID" 2>/dev/null || true
    WAITER_PID=""
}
start_waiter() { # a session that holds the doorbell lock, as an idle worker does
    PGAPPNAME="$WAITER_APP" psql_db "$DB_TRIG" -c "SELECT pg_advisory_lock($DOORBELL_LOCK)" \
        -c "SELECT pg_sleep(86400)" >/dev/null 2>&1 &
    WAITER_PID=$!
    wait_for_doorbell "$WAITER_APP" "$WAITER_PID" || { log "the waiter session did not get the doorbell lock"; exit 1; }
}
IHF_BIN="${IHF_BIN:-$ROOT/target/release/ihf-webhooks}"
SVC_PID=""
stop_service() {
    [[ -n "$SVC_PID" ]] || return 0
    kill -TERM "$SVC_PID" 2>/dev/null || true
    wait "$SVC_PID" 2>/dev/null || true
    SVC_PID=""
}
start_service() { # the real service, idle, its dispatcher waiting at the doorbell
    local port=$(( 20000 + RANDOM % 20000 ))
    DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB_TRIG" IHF_LISTEN="127.0.0.1:$port" \
        IHF_DB_POOL_SIZE=4 RUST_LOG=warn "$IHF_BIN" serve >"$TMP/service.log" 2>&1 &
    SVC_PID=$!
    wait_for_doorbell ihf-webhooks-listener "$SVC_PID" \
        || { cat "$TMP/service.log" >&2; log "the service did not start waiting at the doorbell"; exit 1; }
}
svc_cpu() { # jiffies used by the live service so far (0 when none runs)
    local F=()
    [[ -n "$SVC_PID" ]] && stat_fields "/proc/$SVC_PID/stat" || { echo 0; return; }
    echo $(( F[11] + F[12] ))
}
set_mode() {
    stop_waiter
    stop_service
    case "$1" in
        plain) ;;
        outbox)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_outbox.sql" >/dev/null ;;
        triggers)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_current.sql" >/dev/null ;;
        live)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_current.sql" >/dev/null
            start_service ;;
        waiting)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_current.sql" >/dev/null
            start_waiter ;;
        always)
            psql_db "$DB_TRIG" -f "$TMP/ihf_capture_always.sql" >/dev/null ;;
    esac
}

db_of() { if [[ "$1" == plain ]]; then echo "$DB_PLAIN"; else echo "$DB_TRIG"; fi; }

reset_tables() {
    local db="$1" extra=""
    [[ "$db" == "$DB_TRIG" ]] && extra=", ihf_outbox"
    psql_db "$db" -c "TRUNCATE $SOURCE_TABLES$extra" >/dev/null
    psql_db "$db" -c "CHECKPOINT" >/dev/null 2>&1 || true
}

# --- load on this host -----------------------------------------------------
NCPU="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
cpu_sample() { # -> "busy total" jiffies over all CPUs
    awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat 2>/dev/null || echo "0 0"
}
idle_pct() { # CPU idle % over the next second
    local a b
    read -r -a a <<<"$(cpu_sample)"; sleep 1; read -r -a b <<<"$(cpu_sample)"
    awk -v b="$(( b[0] - a[0] ))" -v t="$(( b[1] - a[1] ))" 'BEGIN {printf "%d", (t > 0) ? 100 - 100 * b / t : 100}'
}
wait_idle() {
    local waited=0 idle
    (( IDLE_WAIT > 0 )) || return 0
    [[ -r /proc/stat ]] || return 0
    while idle="$(idle_pct)"; (( idle < IDLE_MIN )); do
        (( waited >= IDLE_WAIT )) && { log "  (cpu only ${idle}% idle after ${waited}s; running anyway)"; return 0; }
        waited=$(( waited + 2 )); sleep 1
    done
}

# PostgreSQL's own CPU: the postmaster's children, live (utime+stime) and reaped
# (the postmaster's cutime+cstime). Only possible when the server runs here.
PM_PID="$(psql_admin -At -c "SELECT split_part(pg_read_file('postmaster.pid', 0, 32), E'\n', 1)" 2>/dev/null || true)"
if [[ ! "$PM_PID" =~ ^[0-9]+$ || ! -r "/proc/$PM_PID/stat" ]] \
   || ! grep -qE 'postgres|postmaster' "/proc/$PM_PID/comm" 2>/dev/null; then
    PM_PID=""
fi
stat_fields() { # /proc/<pid>/stat -> the fields after "(comm)", in F (bash only, no forks)
    local line
    { read -r line < "$1"; } 2>/dev/null || return 1
    read -r -a F <<<"${line##*) }"
}
pg_cpu() { # jiffies used by PostgreSQL processes so far
    [[ -n "$PM_PID" ]] || { echo 0; return; }
    local total=0 s F=()
    stat_fields "/proc/$PM_PID/stat" || { echo 0; return; }
    total=$(( F[11] + F[12] + F[13] + F[14] ))
    for s in /proc/[0-9]*/stat; do
        stat_fields "$s" || continue
        [[ "${F[1]:-}" == "$PM_PID" ]] && total=$(( total + F[11] + F[12] ))
    done
    echo "$total"
}
# CPU of the reaped children of process $1 (the shell running pgbench: pgbench once it has exited).
children_cpu() { local F=(); stat_fields "/proc/$1/stat" || { echo 0; return; }; echo $(( F[13] + F[14] )); }

# Busy sessions of other databases on the same server (another benchmark or test
# suite): sampled every second during a run, reported as the average count.
other_sessions_sampler() { # db file
    local n=0 sum=0 v
    while :; do
        v="$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity
               WHERE state = 'active' AND backend_type = 'client backend'
                 AND datname IS DISTINCT FROM '$1' AND pid <> pg_backend_pid()" 2>/dev/null || echo 0)"
        n=$(( n + 1 )); sum=$(( sum + ${v:-0} )); echo "$n $sum" > "$2"
        sleep 1
    done
}

run_pgbench() { # db clients duration -> "tps idle% other_sessions foreign%"  (foreign% is "" when unknown)
    local db="$1" c="$2" d="$3" j out failed tps sampler
    j=$(( c < 2 ? c : 2 ))
    local cpu0 cpu1 pg0 pg1 me0 me1 sv0 sv1 me="$BASHPID"
    echo "0 0" > "$TMP/other"
    other_sessions_sampler "$db" "$TMP/other" & sampler=$!
    sv0="$(svc_cpu)"; me0="$(children_cpu "$me")"; pg0="$(pg_cpu)"; read -r -a cpu0 <<<"$(cpu_sample)"
    pgbench -n -M "$PROTOCOL" -c "$c" -j "$j" -T "$d" \
        -f "$TMP/insert_annotation.sql" "$db" >"$TMP/pgbench.out" 2>"$TMP/pgbench.err" || {
        kill "$sampler" 2>/dev/null; cat "$TMP/pgbench.err" "$TMP/pgbench.out" >&2; return 1; }
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    sleep 0.3   # let the postmaster reap the backends
    read -r -a cpu1 <<<"$(cpu_sample)"; pg1="$(pg_cpu)"; me1="$(children_cpu "$me")"; sv1="$(svc_cpu)"
    out="$(cat "$TMP/pgbench.out")"
    failed="$(awk '/number of failed transactions:/ {print $5}' <<<"$out")"
    [[ -z "$failed" || "$failed" == 0 ]] || log "warning: $failed failed transactions ($db, c=$c)"
    tps="$(awk '/^tps = / {print $3; exit}' <<<"$out")"
    local foreign="" idle
    idle="$(awk -v b="$(( cpu1[0] - cpu0[0] ))" -v t="$(( cpu1[1] - cpu0[1] ))" 'BEGIN {printf "%.0f", (t > 0) ? 100 - 100 * b / t : 100}')"
    if [[ -n "$PM_PID" ]] && (( cpu1[1] > cpu0[1] )); then
        foreign="$(awk -v busy="$(( cpu1[0] - cpu0[0] ))" -v tot="$(( cpu1[1] - cpu0[1] ))" \
                       -v ours="$(( pg1 - pg0 + me1 - me0 + sv1 - sv0 ))" \
                       'BEGIN {f = 100 * (busy - ours) / tot; printf "%.0f", (f < 0) ? 0 : f}')"
    fi
    local other
    other="$(awk '{printf "%.1f", ($1 > 0) ? $2 / $1 : 0}' "$TMP/other")"
    echo "$tps $idle $other $foreign"
}

median() { # numbers on stdin
    sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'
}

read -r -a MODES <<<"${MODES:-plain outbox triggers live waiting always}"
[[ "${MODES[0]}" == plain ]] || { log "MODES must start with plain"; exit 1; }
if [[ " ${MODES[*]} " == *" live "* && ! -x "$IHF_BIN" ]]; then
    log "note: $IHF_BIN not built (cargo build --release); skipping the live mode"
    read -r -a MODES <<<"$(sed 's/ live / /' <<<" ${MODES[*]} ")"
fi
declare -A SAMPLES=() PAIRED=() IDLE_SAMPLES=()
DISTURBED=0
RUNS=0

log "server: $(psql_admin -At -c "SELECT current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', fsync=' || current_setting('fsync')")"
log "duration ${DURATION}s per run, clients: $CLIENTS, rounds: $ROUNDS, protocol: $PROTOCOL, cpus: $NCPU, load avg: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
[[ -n "$PM_PID" ]] || log "note: server not on this host (or not visible); foreign CPU is not measured"

if (( WARMUP > 0 )); then
    log "warm-up ${WARMUP}s per database"
    max_c=0; for c in $CLIENTS; do (( c > max_c )) && max_c=$c; done
    for mode in plain triggers; do
        set_mode "$mode"; run_pgbench "$(db_of "$mode")" "$max_c" "$WARMUP" >/dev/null
    done
fi

for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CLIENTS; do
        declare -A this_round=()
        for ((k = 0; k < ${#MODES[@]}; k++)); do
            mode="${MODES[$(( (k + r - 1) % ${#MODES[@]} ))]}"
            db="$(db_of "$mode")"
            for ((attempt = 0; ; attempt++)); do
                set_mode "$mode"
                reset_tables "$db"
                wait_idle
                read -r tps idle other foreign <<<"$(run_pgbench "$db" "$c" "$DURATION")"
                [[ -n "$tps" ]] || { log "could not parse tps"; exit 1; }
                if { [[ -n "$foreign" ]] && (( foreign > NOISE_MAX )); } \
                   || awk -v o="$other" -v m="$OTHER_MAX" 'BEGIN {exit !(o > m)}'; then
                    if (( attempt < NOISE_RETRIES )); then
                        log "round $r  clients $c  $(printf '%-8s' "$mode") tps $tps  (cpu idle ${idle}%, foreign cpu ${foreign:-?}%, other-db sessions $other: disturbed, repeating)"
                        continue
                    fi
                    DISTURBED=$(( DISTURBED + 1 ))
                fi
                break
            done
            RUNS=$(( RUNS + 1 ))
            SAMPLES[$mode,$c]="${SAMPLES[$mode,$c]:-} $tps"
            this_round[$mode]="$tps"
            if [[ "$mode" != plain && "$mode" != live ]]; then
                outbox="$(psql_db "$db" -At -c "SELECT count(*) FROM ihf_outbox")"
                rows="$(psql_db "$db" -At -c "SELECT count(*) FROM annotations")"
                [[ "$outbox" == "$rows" ]] || log "warning: $rows annotations but $outbox outbox rows ($mode, c=$c)"
            fi
            IDLE_SAMPLES[$mode,$c]="${IDLE_SAMPLES[$mode,$c]:-} $idle"
            log "round $r  clients $c  $(printf '%-8s' "$mode") tps $tps  (cpu idle ${idle}%${foreign:+, foreign cpu ${foreign}%}, other-db sessions $other)"
        done
        for mode in "${MODES[@]}"; do
            [[ "$mode" == plain ]] && continue
            PAIRED[$mode,$c]="${PAIRED[$mode,$c]:-} $(awk -v p="${this_round[plain]}" -v x="${this_round[$mode]}" 'BEGIN {printf "%.2f", (p - x) / p * 100}')"
        done
        unset this_round
    done
done
set_mode triggers

# --- report ----------------------------------------------------------------
tps_of() { tr ' ' '\n' <<<"${SAMPLES[$1,$2]}" | grep -v '^$' | median; }
overhead() { awk -v p="$1" -v x="$2" 'BEGIN {printf "%.1f", (p - x) / p * 100}'; }
fmt() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
paired() { # mode clients -> "median [min..max]"
    tr ' ' '\n' <<<"${PAIRED[$1,$2]}" | grep -v '^$' | sort -g | \
        awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f%% [%.1f..%.1f]", m, a[1], a[NR]}'
}
paired_median() { tr ' ' '\n' <<<"${PAIRED[$1,$2]}" | grep -v '^$' | median | awk '{printf "%.1f", $1}'; }

has_mode() { [[ " ${MODES[*]} " == *" $1 "* ]]; }
title() {
    case "$1" in
        plain) echo "plain tps" ;;
        outbox) echo "outbox row alone (no doorbell)" ;;
        triggers) echo "our triggers, no worker waiting" ;;
        live) echo "our triggers + the service running" ;;
        waiting) echo "our triggers + a worker waiting forever (every insert notifies)" ;;
        always) echo "trigger that always notifies" ;;
    esac
}
json_key() { [[ "$1" == always ]] && echo always_notify || echo "$1"; }

echo
header="| writers |"; rule="|---:|"
for mode in "${MODES[@]}"; do header+=" $(title "$mode") |"; rule+="---:|"; done
if has_mode outbox && has_mode triggers; then header+=" wake-up cost (triggers vs outbox) |"; rule+="---:|"; fi
echo "$header"; echo "$rule"
json_rows=()
for c in $CLIENTS; do
    p="$(tps_of plain "$c")"
    line="| $c | $(fmt "$p") |"
    json="    {\"clients\": $c, \"plain_tps\": $p"
    samples="\"plain\": [$(sed -e 's/^ *//' -e 's/ \+/, /g' <<<"${SAMPLES[plain,$c]}")]"
    for mode in "${MODES[@]:1}"; do
        x="$(tps_of "$mode" "$c")"; k="$(json_key "$mode")"
        line+=" $(fmt "$x") ($(overhead "$p" "$x")%) |"
        json+=", \"${k}_tps\": $x, \"${k}_overhead_pct\": $(overhead "$p" "$x"), \"${k}_paired_overhead_pct\": $(paired_median "$mode" "$c")"
        samples+=", \"$k\": [$(sed -e 's/^ *//' -e 's/ \+/, /g' <<<"${SAMPLES[$mode,$c]}")]"
    done
    if has_mode outbox && has_mode triggers; then
        o="$(tps_of outbox "$c")"; t="$(tps_of triggers "$c")"
        line+=" $(overhead "$o" "$t")% |"
        json+=", \"wakeup_cost_pct\": $(overhead "$o" "$t")"
    fi
    echo "$line"
    json_rows+=("$json, \"samples\": {$samples}}")
done
echo
echo "Overhead = (plain - mode) / plain; single-row autocommit INSERTs into annotations, ${DURATION}s per run, median of $ROUNDS round(s)."
echo "Paired overhead per round (median [min..max] over rounds; each round's modes ran back to back):"
for c in $CLIENTS; do
    line="  $c writers:"
    for mode in "${MODES[@]:1}"; do line+=" $mode $(paired "$mode" "$c"),"; done
    echo "${line%,}"
done
echo "CPU idle during the runs (median over rounds, whole machine): $(for c in $CLIENTS; do
    printf '%s writers: plain %s%%, triggers %s%%; ' "$c" \
        "$(tr ' ' '\n' <<<"${IDLE_SAMPLES[plain,$c]}" | grep -v '^$' | median | awk '{printf "%.0f", $1}')" \
        "$(tr ' ' '\n' <<<"${IDLE_SAMPLES[triggers,$c]}" | grep -v '^$' | median | awk '{printf "%.0f", $1}')"
done | sed 's/; $//')"
if [[ -n "$PM_PID" ]]; then
    echo "Runs disturbed by other load (> ${NOISE_MAX}% of the ${NCPU} CPUs foreign or > ${OTHER_MAX} busy other-db sessions; kept after ${NOISE_RETRIES} retries): $DISTURBED of $RUNS."
else
    echo "Runs disturbed by busy sessions of other databases (> ${OTHER_MAX}; kept after ${NOISE_RETRIES} retries): $DISTURBED of $RUNS."
fi

if [[ -n "$OUT_JSON" ]]; then
    {
        echo "{"
        echo "  \"duration_s\": $DURATION, \"rounds\": $ROUNDS, \"protocol\": \"$PROTOCOL\", \"disturbed_runs\": $DISTURBED, \"runs\": $RUNS,"
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
