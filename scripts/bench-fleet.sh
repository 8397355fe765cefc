#!/usr/bin/env bash
# The fleet figures of docs/PERFORMANCE.md ("A fleet of instances"): N
# instances of the server binary on loopback sharing one PostgreSQL schema
# (and one Redis, or PostgreSQL LISTEN/NOTIFY alone), driven by
# `loadgen -scenario fleet`: force logouts at a rate through the admin API,
# one in 20 probed on every instance (time from the logout's 200 to that
# instance's first 401), the CPU of each instance (/proc/PID/stat) over an
# idle phase and over the stream, and the PostgreSQL and Redis traffic of the
# stream (pg_stat_database, INFO).
#
#   SM_TEST_POSTGRES_URL=postgres://... SM_TEST_REDIS_URL=redis://... make bench-fleet
#   FLEET_RUNS="redis:10:1000:60" make bench-fleet      # bus:instances:rate:seconds[:quiet] ...
#
# Everything lands in $BENCH_OUT (a temp dir by default). Ten instances, the
# load generator, PostgreSQL and Redis share the machine's cores: that is the
# point of the exercise, and the figures are to be read with it.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${SM_TEST_POSTGRES_URL:?bench-fleet needs SM_TEST_POSTGRES_URL (the fleet shares one PostgreSQL)}"
OUT="${BENCH_OUT:-$(mktemp -d /tmp/sm-fleet.XXXXXX)}"
# The default set: the target on each bus (10 instances, 1,000 force
# logouts/s for a minute; loadgen stops at the minute and reports what the
# fleet sustained), the same at a rate this 2-core machine sustains (150/s),
# then how the stream's cost grows with instances (2, 5, 10 at 100/s) and
# with the rate (50, 100, 200/s on 10), 10 s each, with one quiet instance
# (no request at all: its extra CPU is the revocation stream's).
FLEET_RUNS="${FLEET_RUNS:-redis:10:1000:60 postgres:10:1000:60 redis:10:150:60 postgres:10:150:60 redis:2:100:10:1 redis:5:100:10:1 redis:10:100:10:1 redis:10:50:10:1 redis:10:200:10:1 postgres:2:100:10:1 postgres:5:100:10:1 postgres:10:100:10:1 postgres:10:50:10:1 postgres:10:200:10:1}"
PROBE_EVERY="${FLEET_PROBE_EVERY:-20}"
export PGOPTIONS="-c client_min_messages=warning" # no NOTICE per dropped table
PIDS=()
mkdir -p "$OUT/bin"
echo "bench-fleet: results in $OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), $(go version)" | tee "$OUT/machine.txt"
go build -o "$OUT/bin/sessionmanager" ./cmd/sessionmanager
go build -o "$OUT/bin/loadgen" ./cmd/loadgen

PG="$SM_TEST_POSTGRES_URL"
sep='?'
[[ $PG == *\?* ]] && sep='&'
REDIS="${SM_TEST_REDIS_URL:-}"

stop_fleet() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap stop_fleet EXIT

# pgstats: commits, rows inserted / updated / deleted of the test database.
pgstats() {
  psql -Atq "$PG" -c "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_fetched FROM pg_stat_database WHERE datname = current_database()"
}
# redisstats: commands processed, bytes in, bytes out (the whole server).
redisstats() {
  redis-cli -u "$REDIS" INFO stats | tr -d '\r' | awk -F: '/^total_commands_processed|^total_net_input_bytes|^total_net_output_bytes/ {printf "%s ", $2}'
}

run_one() { # bus instances rate seconds quiet
  local bus=$1 n=$2 rate=$3 secs=$4 quiet=${5:-0}
  local name="$bus-n$n-r$rate-${secs}s-q$quiet" schema="fleet_$(date +%s)_$$" prefix="msmfleet$$$(date +%s):"
  local dir="$OUT/$name"
  mkdir -p "$dir"
  psql -q "$PG" -c "CREATE SCHEMA $schema"
  export DATABASE_URL="${PG}${sep}search_path=$schema" SESSION_ENCRYPTION_KEY
  SESSION_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
  export SM_ADDR=127.0.0.1:0 SM_LOG_LEVEL=info SM_THREAT_FEEDS=off SM_REGISTER_PER_IP=0 SM_REDIS_PREFIX="$prefix"
  if [[ $bus == redis ]]; then
    [[ -n $REDIS ]] || { echo "bench-fleet: $name needs SM_TEST_REDIS_URL"; return 1; }
    export REDIS_URL=$REDIS
  else
    unset REDIS_URL
  fi
  export SM_DATA_DIR="$dir/data0"
  mkdir -p "$SM_DATA_DIR"
  "$OUT/bin/sessionmanager" migrate >/dev/null
  local write service
  write=$("$OUT/bin/sessionmanager" admin create-token --name fleet --scope write 2>/dev/null)
  service=$("$OUT/bin/sessionmanager" admin create-token --name fleet-service --scope service 2>/dev/null)
  local targets=() i
  for i in $(seq 0 $((n - 1))); do
    export SM_DATA_DIR="$dir/data$i"
    mkdir -p "$SM_DATA_DIR"
    "$OUT/bin/sessionmanager" serve >"$dir/server$i.out" 2>"$dir/server$i.err" &
    PIDS+=($!)
  done
  for i in $(seq 0 $((n - 1))); do
    local addr="" try
    for try in $(seq 300); do
      addr=$(grep -o '"msg":"serving","addr":"[^"]*"' "$dir/server$i.err" 2>/dev/null | sed 's/.*"addr":"\([^"]*\)"/\1/' || true)
      if [[ -n $addr ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then break; fi
      addr=""
      sleep 0.1
    done
    [[ -n $addr ]] || { echo "instance $i did not start"; tail -5 "$dir/server$i.err"; return 1; }
    targets+=("http://$addr")
  done
  # The sessions that are logged out without a probe need only exist in the
  # store: one real session (an external sign-in) is copied with new ids.
  local seed total
  seed=$(curl -fsS -X POST "${targets[0]}/api/sessions" -H "Authorization: Bearer $service" -H 'Content-Type: application/json' \
    -d '{"externalUserId":"fleet-seed","ip":"127.0.0.1","userAgent":"bench-fleet"}' | sed 's/.*"session":{"id":"\([^"]*\)".*/\1/')
  total=$((rate * secs))
  # Only the stored columns are copied: generated ones (isp, migration
  # 0020; search columns) are computed by PostgreSQL and refuse a value.
  local cols
  cols=$(psql -Atq -v ON_ERROR_STOP=1 "$PG" -c "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns
    WHERE table_schema = '$schema' AND table_name = 'sessions' AND is_generated = 'NEVER' AND column_name <> 'id'")
  psql -Atq -v ON_ERROR_STOP=1 "$PG" -c "SET search_path TO $schema; INSERT INTO sessions (id, $cols) SELECT substr(md5(random()::text || g), 1, 32), $cols FROM sessions s, generate_series(1, $total) g WHERE s.id = '$seed' RETURNING id" >"$dir/ids.txt"
  if [[ $(wc -l <"$dir/ids.txt") -ne $total ]]; then
    echo "bench-fleet: $name: copied $(wc -l <"$dir/ids.txt") sessions of $total"
    stop_fleet
    psql -q "$PG" -c "DROP SCHEMA $schema CASCADE"
    return 1
  fi
  local pids
  pids=$(IFS=,; echo "${PIDS[*]}")
  local pg0 rd0 pg1 rd1
  pg0=$(pgstats)
  [[ -n $REDIS ]] && rd0=$(redisstats)
  echo "== $name: $n instances, bus $bus, $rate force logouts/s for ${secs}s, $quiet quiet" | tee "$dir/loadgen.txt"
  "$OUT/bin/loadgen" -scenario fleet -targets "$(IFS=,; echo "${targets[*]}")" -pids "$pids" -rate "$rate" -duration "${secs}s" \
    -admin-token "$write" -service-token "$service" -session-ids "$dir/ids.txt" -probe-every "$PROBE_EVERY" -quiet "$quiet" 2>&1 | tee -a "$dir/loadgen.txt" || true
  pg1=$(pgstats)
  [[ -n $REDIS ]] && rd1=$(redisstats)
  # Includes the setup (session creation) and the idle phase; per-logout
  # figures are upper bounds.
  echo "postgres (commits inserted updated deleted fetched) before: $pg0 after: $pg1" | tee -a "$dir/loadgen.txt"
  [[ -n $REDIS ]] && echo "redis (commands bytes-in bytes-out, whole server) before: $rd0 after: $rd1" | tee -a "$dir/loadgen.txt"
  for i in $(seq 0 $((n - 1))); do
    echo "instance $i: VmRSS $(grep VmRSS /proc/${PIDS[$i]}/status | awk '{print $2, $3}'), log lines $(wc -l <"$dir/server$i.err")" >>"$dir/loadgen.txt"
  done
  stop_fleet
  psql -q "$PG" -c "DROP SCHEMA $schema CASCADE"
  if [[ -n $REDIS ]]; then
    redis-cli -u "$REDIS" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$REDIS" DEL >/dev/null
  fi
  rm -rf "$dir"/data*
}

for spec in $FLEET_RUNS; do
  IFS=: read -r bus n rate secs quiet <<<"$spec"
  run_one "$bus" "$n" "$rate" "$secs" "${quiet:-0}" || echo "bench-fleet: run $spec failed"
done
trap - EXIT
echo
echo "== summary"
for f in "$OUT"/*/loadgen.txt; do
  grep -E '^== |^fleet: |postgres \(|redis \(' "$f"
done
echo "bench-fleet: done; results in $OUT"
