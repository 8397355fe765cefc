#!/usr/bin/env bash
# Reproduces the figures of docs/PERFORMANCE.md: the Go benchmarks, then the
# server built with `go build`, started on a free loopback port with a
# temporary data dir (SQLite; PostgreSQL too when SM_TEST_POSTGRES_URL is
# set, in a fresh schema selected with search_path), driven by cmd/loadgen
# (a module of its own, built through go.work).
# Everything lands in $BENCH_OUT (a temp dir by default); the summary is
# printed at the end. Bounded: about 10 minutes on the 2-core machine
# (BENCH_REPS=2, as for docs/PERFORMANCE.md, adds about 2.5 minutes).
#
#   make bench                       # everything
#   BENCH_PARTS=load make bench      # only the load tests (go, load, wrk, memory)
#   BENCH_PARTS=wrk make bench       # forward auth vs a bare handler with wrk (scripts/wrk-verify.sh)
#   BENCH_PARTS=memory BENCH_SESSIONS=20000 make bench  # server heap per cached session
#   BENCH_COUNT=6 BENCH_DURATION=5s  # repetitions of the key benchmarks, length of a load phase
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${BENCH_OUT:-$(mktemp -d /tmp/sm-bench.XXXXXX)}"
COUNT="${BENCH_COUNT:-6}"
DUR="${BENCH_DURATION:-5s}"
CONNS="${BENCH_CONNECTIONS:-32}"
REPS="${BENCH_REPS:-1}"
PARTS="${BENCH_PARTS:-go,load,wrk,memory}"
SESSIONS="${BENCH_SESSIONS:-20000}"
SERVER_PID=""
mkdir -p "$OUT/bin"
echo "bench: results in $OUT"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), $(go version)" | tee "$OUT/machine.txt"

# benchstat summarises repeated runs (median and spread) when it can be
# fetched from the module proxy; otherwise the raw lines are the record.
stat() {
  if timeout 120 go run golang.org/x/perf/cmd/benchstat@latest "$1" >"$1.stat" 2>/dev/null; then
    cat "$1.stat"
  else
    grep -E '^Benchmark' "$1"
  fi
}

gobench() { # name packages bench-regexp extra-args...
  local name=$1 pkgs=$2 re=$3
  shift 3
  echo "== go test -bench '$re' $* $pkgs"
  go test -run '^$' -bench "$re" -benchmem "$@" $pkgs >"$OUT/$name.txt" 2>&1 || { tail -20 "$OUT/$name.txt"; return 1; }
  stat "$OUT/$name.txt"
}

# The real geo data of the geo benchmarks, when scripts/fetch-geodata.sh fetched it.
if [[ -z ${SM_GEODATA_DIR:-} && -d $HOME/.cache/sessionmanager/geodata ]]; then
  export SM_GEODATA_DIR="$HOME/.cache/sessionmanager/geodata"
fi

if [[ $PARTS == *go* ]]; then
  # The hot path, -count $COUNT (benchstat wants 6 for a confidence interval): in process, and through the server's handler.
  gobench hotpath . '^(BenchmarkAuthenticate|BenchmarkAuthenticateParallel|BenchmarkMiddleware)$' -count "$COUNT"
  gobench server ./cmd/sessionmanager '^BenchmarkServer' -count "$COUNT"
  gobench fanout . '^BenchmarkBusFanout$' -count "$COUNT"
  # Login (cheap hash and argon2id) and refresh, on both stores.
  gobench login . '^(BenchmarkLogin|BenchmarkRefresh)$' -count 3
  # Last-seen: 40 s of fake time per run (400k requests x 100 µs).
  gobench lastseen . '^BenchmarkLastSeenWrites$' -benchtime 400000x -count 1
  # Verify with 10k / 100k / 1M stored sessions, and memory per cached session.
  gobench scale . '^(BenchmarkVerifyCold|BenchmarkVerifyWarm|BenchmarkCachedSessionMemory)$' -count 1 -timeout 20m
  # The components of the login pipeline.
  gobench components "./token ./risk ./geo ./alert ./password" '.' -count 3
fi

# start_server STORE DATABASE_URL: builds nothing, starts bin/sessionmanager on
# a free loopback port, sets SERVER_PID and TARGET, creates ADMIN_TOKEN.
start_server() {
  local store=$1 dburl=$2 bin=${SERVER_BIN:-$OUT/bin/sessionmanager}
  # Every loadgen user signs up from 127.0.0.1: lift the sign-up cap per IP.
  export SM_DATA_DIR="$OUT/data-$store" SM_ADDR=127.0.0.1:0 SM_ADMIN_PASSWORD="bench admin password" SM_LOG_LEVEL=info SM_REGISTER_PER_IP=0
  # No feed downloads during a measurement (and no network needed).
  export SM_THREAT_FEEDS=off
  if [[ -n $dburl ]]; then export DATABASE_URL=$dburl; else unset DATABASE_URL; fi
  rm -rf "$SM_DATA_DIR"
  mkdir -p "$SM_DATA_DIR"
  "$bin" migrate >/dev/null
  ADMIN_TOKEN=$("$bin" admin create-token --name load --scope write 2>/dev/null)
  SERVICE_TOKEN=$("$bin" admin create-token --name sessions --scope service 2>/dev/null | cut -d' ' -f1)
  "$bin" serve >"$OUT/server-$store.out" 2>"$OUT/server-$store.err" &
  SERVER_PID=$!
  TARGET=""
  for _ in $(seq 200); do
    local addr
    addr=$(grep -o '"msg":"serving","addr":"[^"]*"' "$OUT/server-$store.err" 2>/dev/null | sed 's/.*"addr":"\([^"]*\)"/\1/' || true)
    if [[ -n $addr ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then
      TARGET="http://$addr"
      break
    fi
    sleep 0.1
  done
  [[ -n $TARGET ]] || { echo "server did not start"; cat "$OUT/server-$store.err"; kill "$SERVER_PID"; exit 1; }
  echo "== $store server pid $SERVER_PID on $TARGET"
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

loadtests() { # STORE
  local store=$1 lg=("$OUT/bin/loadgen" -target "$TARGET" -pid "$SERVER_PID" -connections "$CONNS")
  for i in $(seq "$REPS"); do
    "${lg[@]}" -scenario verify -duration "$DUR" -rounds 3 -users 50
  done
  "${lg[@]}" -scenario me -duration "$DUR" -users 50
  "${lg[@]}" -scenario refresh -duration "$DUR" -users 50
  # argon2id login: latency at a light rate, then throughput at saturation.
  "${lg[@]}" -scenario login -duration "$DUR" -users 10 -rate 5
  "${lg[@]}" -scenario login -duration "$DUR" -users 10 -connections 8
  "${lg[@]}" -scenario mixed -duration "$DUR" -users 50 -rate 1000 -admin-token "$ADMIN_TOKEN"
}

if [[ $PARTS == *load* ]]; then
  go build -o "$OUT/bin/sessionmanager" ./cmd/sessionmanager
  go build -o "$OUT/bin/loadgen" ./cmd/loadgen
  trap 'stop_server' EXIT
  start_server sqlite ""
  loadtests sqlite 2>&1 | tee "$OUT/load-sqlite.txt"
  stop_server
  if [[ -n ${SM_TEST_POSTGRES_URL:-} ]]; then
    schema="bench_$(date +%s)_$$"
    psql -q "$SM_TEST_POSTGRES_URL" -c "CREATE SCHEMA $schema"
    sep='?'
    [[ $SM_TEST_POSTGRES_URL == *\?* ]] && sep='&'
    start_server postgres "${SM_TEST_POSTGRES_URL}${sep}search_path=$schema"
    loadtests postgres 2>&1 | tee "$OUT/load-postgres.txt"
    stop_server
    psql -q "$SM_TEST_POSTGRES_URL" -c "DROP SCHEMA $schema CASCADE"
  fi
  trap - EXIT
  rm -rf "$OUT"/data-*
fi

if [[ $PARTS == *wrk* ]]; then
  [[ -x $OUT/bin/loadgen ]] || go build -o "$OUT/bin/loadgen" ./cmd/loadgen
  [[ -x $OUT/bin/sessionmanager ]] || go build -o "$OUT/bin/sessionmanager" ./cmd/sessionmanager
  scripts/wrk-verify.sh "$OUT/wrk" "$OUT/bin/loadgen" "$OUT/bin/sessionmanager" | tee "$OUT/wrk-sqlite.txt"
  if [[ -n ${SM_TEST_POSTGRES_URL:-} ]]; then
    WRK_STORE=postgres scripts/wrk-verify.sh "$OUT/wrk" "$OUT/bin/loadgen" "$OUT/bin/sessionmanager" | tee "$OUT/wrk-postgres.txt"
  fi
fi

if [[ $PARTS == *memory* ]]; then
  # The heap per cached session of the running server: a binary with the
  # pprof endpoint (-tags pprof) so loadgen can force a GC and read the heap.
  go build -tags pprof -o "$OUT/bin/sessionmanager-pprof" ./cmd/sessionmanager
  [[ -x $OUT/bin/loadgen ]] || go build -o "$OUT/bin/loadgen" ./cmd/loadgen
  pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  trap 'stop_server' EXIT
  SM_PPROF_ADDR=127.0.0.1:$pport SERVER_BIN="$OUT/bin/sessionmanager-pprof" start_server memory ""
  "$OUT/bin/loadgen" -target "$TARGET" -pid "$SERVER_PID" -scenario sessions -sessions "$SESSIONS" -connections 8 \
    -service-token "$SERVICE_TOKEN" -pprof "http://127.0.0.1:$pport" | tee "$OUT/memory.txt"
  stop_server
  trap - EXIT
  rm -rf "$OUT"/data-*
fi

echo
echo "== summary"
for f in "$OUT"/load-*.txt; do
  [[ -f $f ]] || continue
  echo "-- $f"
  grep -E 'ratio|^(hello|verify|me|refresh|login|mixed) |p50|mixed:|last-seen:|VmHWM|chains' "$f"
done
for f in "$OUT"/wrk-*.txt "$OUT"/memory.txt; do
  [[ -f $f ]] && { echo "-- $f"; cat "$f"; }
done
echo "bench: done; results in $OUT"
