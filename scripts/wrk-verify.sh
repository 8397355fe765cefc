#!/usr/bin/env bash
# Forward auth against a bare net/http handler with wrk (2 threads, 32
# connections), in interleaved rounds: the bare handler (loadgen
# -scenario hello-server, sent the same request with its bearer token), then GET /api/auth/verify of each server binary
# given, round after round, so the machine's drift hits all alike. Per run:
# requests/s, p50/p99 latency and the CPU the serving process spent per
# 1,000 requests (/proc utime+stime): on a shared, loaded machine the CPU
# per request is the steadier figure. Part of `make bench` (BENCH_PARTS=wrk);
# docs/PERFORMANCE.md quotes it, with the binary before and after a change:
#
#   scripts/wrk-verify.sh OUT_DIR LOADGEN SERVER_BINARY [SERVER_BINARY...]
#   WRK_ROUNDS=6 WRK_DURATION=5s WRK_STORE=postgres (needs SM_TEST_POSTGRES_URL)
set -euo pipefail
OUT=$1 LOADGEN=$2
shift 2
export PGOPTIONS="-c client_min_messages=warning"
ROUNDS="${WRK_ROUNDS:-6}" DUR="${WRK_DURATION:-5s}" STORE="${WRK_STORE:-sqlite}"
command -v wrk >/dev/null || { echo "wrk-verify: wrk is not installed (apt-get install wrk); skipped"; exit 0; }
mkdir -p "$OUT"
pids=() targets=() tokens=() schemas=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for s in "${schemas[@]}"; do psql -q "$SM_TEST_POSTGRES_URL" -c "DROP SCHEMA $s CASCADE" || true; done
}
trap cleanup EXIT

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks (1/100 s)

i=0
for bin in "$@"; do
  dir="$OUT/wrk-data-$i"
  rm -rf "$dir"
  mkdir -p "$dir"
  (
    export SM_DATA_DIR=$dir SM_ADDR=127.0.0.1:0 SM_ADMIN_PASSWORD="bench admin password" SM_LOG_LEVEL=info SM_REGISTER_PER_IP=0 SM_THREAT_FEEDS=off
    unset DATABASE_URL
    if [[ $STORE == postgres ]]; then
      export DATABASE_URL="${SM_TEST_POSTGRES_URL}&search_path=wrk_$$_$i"
      psql -q "$SM_TEST_POSTGRES_URL" -c "CREATE SCHEMA wrk_$$_$i"
    fi
    "$bin" migrate >/dev/null
    exec "$bin" serve >"$dir/out" 2>"$dir/err"
  ) &
  pids+=($!)
  [[ $STORE == postgres ]] && schemas+=("wrk_$$_$i")
  addr=""
  for _ in $(seq 300); do
    addr=$(grep -o '"msg":"serving","addr":"[^"]*"' "$dir/err" 2>/dev/null | sed 's/.*"addr":"\([^"]*\)"/\1/' || true)
    [[ -n $addr ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  [[ -n $addr ]] || { echo "server $bin did not start"; cat "$dir/err"; exit 1; }
  tok=$(curl -fsS -H 'Content-Type: application/json' -d '{"username":"wrk","email":"wrk@example.com","password":"wrk password 0123456789"}' \
    "http://$addr/api/auth/local/register" | sed 's/.*"jwt":"\([^"]*\)".*/\1/')
  targets+=("http://$addr") tokens+=("$tok")
  i=$((i + 1))
done

# run NAME URL PID [HEADER]: one wrk run; prints a line of figures.
run() {
  local name=$1 url=$2 pid=$3 hdr=${4:-} c0 c1 out
  c0=$(cpu "$pid")
  if [[ -n $hdr ]]; then out=$(wrk -t2 -c32 -d"$DUR" --latency -H "$hdr" "$url"); else out=$(wrk -t2 -c32 -d"$DUR" --latency "$url"); fi
  c1=$(cpu "$pid")
  local rps p50 p99 n
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-8s %10s req/s  p50 %8s  p99 %8s  cpu %6.1f ms/1k req%s\n' "$name" "$rps" "$p50" "$p99" \
    "$(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {print c * 10 * 1000 / n}')" "${non2xx:+  NON-2XX $non2xx}"
}

echo "wrk-verify: $STORE, $ROUNDS rounds of $DUR, 32 connections, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  echo "-- round $r"
  "$LOADGEN" -scenario hello-server -duration 60s >"$OUT/hello.out" 2>&1 &
  hp=$!
  for _ in $(seq 50); do grep -q hello-server "$OUT/hello.out" && break; sleep 0.1; done
  hurl=$(grep -o 'http://[^ ]*' "$OUT/hello.out")
  run hello "$hurl/" "$hp" "Authorization: Bearer ${tokens[0]}" # the same request
  kill "$hp"
  wait "$hp" 2>/dev/null || true
  for j in "${!targets[@]}"; do
    run "bin$j" "${targets[$j]}/api/auth/verify" "${pids[$j]}" "Authorization: Bearer ${tokens[$j]}"
  done
done
