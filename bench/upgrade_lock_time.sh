#!/usr/bin/env bash
# How long the upgrade to partitioned logs (migration V14) holds up the
# delivery log's inserts, at ROWS existing log rows (default "1000000").
#
# For each count: a database migrated to V13 (the last unpartitioned schema)
# with ROWS delivery-log rows of ~500 bytes over 90 days and ROWS/10 request-log
# rows; then, while a writer inserts one log row every 20 ms and times each
# insert, `ihf-webhooks migrate` (which prepares the history CONCURRENTLY,
# then runs V14). Prints the migration's total time, the time of the
# migrations after V13 (which migrate logs), and the slowest insert the writer saw
# during it: the lock time the log's writers felt. The index builds and the
# constraint's validation (most of the total) block no insert.
#
#   ROWS="1000000 10000000" bench/upgrade_lock_time.sh
#
# Needs psql and a release build (IHF_BIN, default target/release/ihf-webhooks).
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${BENCH_SERVER_URL:-postgres://postgres@127.0.0.1:5432}
IHF_BIN=${IHF_BIN:-target/release/ihf-webhooks}
ROWS=${ROWS:-1000000}
DB=ihf_bench_upgrade
psql_admin() { psql "$SERVER/postgres" -qAtX -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql "$SERVER/$DB" -qAtX -v ON_ERROR_STOP=1 "$@"; }
now_ms() { date +%s%3N; }

printf '%-10s %12s %14s %18s\n' rows "migrate (s)" "V14 tx (ms)" "slowest insert (ms)"
for rows in $ROWS; do
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATABASE_URL="$SERVER/$DB" RUST_LOG=warn "$IHF_BIN" migrate --with-fixture --until 13 >/dev/null
  psql_db <<SQL
INSERT INTO api_consumers (name) VALUES ('bench');
INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret)
SELECT id, 'annotation.created', 'https://example.com/hook', 'whsec_x' FROM api_consumers;
INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, attempted_at, response_code, latency_ms)
SELECT s.id,
       jsonb_build_object('id', gen_random_uuid(), 'type', 'annotation.created',
                          'timestamp', now() - g * (interval '90 days' / $rows),
                          'data', jsonb_build_object('body', repeat('x', 300), 'n', g)),
       'delivered', now() - g * (interval '90 days' / $rows), 200, 3
  FROM webhook_subscriptions s, generate_series(1, $rows) g;
INSERT INTO api_request_log (api_consumer_id, endpoint, method, status_code, latency_ms, requested_at)
SELECT id, '/api/v2/webhooks', 'GET', 200, 2, now() - g * (interval '30 days' / ($rows / 10))
  FROM api_consumers, generate_series(1, $rows / 10) g;
VACUUM ANALYZE webhook_deliveries;
VACUUM ANALYZE api_request_log;
SQL
  sub=$(psql_db -c "SELECT id FROM webhook_subscriptions")
  # The writer: one insert every 20 ms, each timed, until told to stop.
  stop=$(mktemp); times=$(mktemp); rm -f "$stop"
  (
    while [ ! -e "$stop" ]; do
      t0=$(now_ms)
      psql_db -c "INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status)
                  VALUES ('$sub', '{\"id\": \"$(cat /proc/sys/kernel/random/uuid)\"}', 'pending')"
      echo $(( $(now_ms) - t0 )) >>"$times"
      sleep 0.02
    done
  ) &
  writer=$!
  sleep 2 # the writer's baseline
  baseline=$(sort -n "$times" | tail -n1)
  started=$(now_ms)
  log=$(mktemp)
  DATABASE_URL="$SERVER/$DB" RUST_LOG=info NO_COLOR=1 "$IHF_BIN" migrate >/dev/null 2>"$log"
  took=$(( $(now_ms) - started ))
  sleep 1
  touch "$stop"; wait "$writer"
  slowest=$(sort -n "$times" | tail -n1)
  # migrate logs how long the migrations after V13 (the ones that take locks) took.
  tx=$(grep -o 'migrations_ms=[0-9]*' "$log" | cut -d= -f2)
  rm -f "$log"
  median=$(sort -n "$times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-10s %12.1f %14s %18s   (median insert %s ms, before the migration at most %s ms)\n' "$rows" "$(echo "$took/1000" | bc -l)" "$tx" "$slowest" "$median" "$baseline"
  rm -f "$stop" "$times"
done
psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
