#!/usr/bin/env bash
# Runs every fuzz target of every module of go.work for a short time (FUZZTIME, default
# 10s each), one after the other, and fails on the first crash. The targets
# are found by name (func FuzzXxx in *_test.go), so a new one is included
# without editing this script. With ~15 targets the whole run stays under
# about 5 minutes; MAX_TOTAL (seconds, default 290) stops it early.
# Seed corpora live in each package's testdata/fuzz/FuzzXxx/ and run in
# `make test` too; what a run finds new stays in the Go build cache.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-10s}"
MAX_TOTAL="${MAX_TOTAL:-290}"
start=$(date +%s)
ran=0
skipped=0

# "dir FuzzName" lines, sorted, skipping generated and vendored trees.
targets=$(grep -rEo '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' . \
  | grep -vE '^\./(artifacts|vendor|node_modules)/' \
  | sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\($#\1 \2#' | sort -u)

while read -r dir name; do
  [ -n "$dir" ] || continue
  if [ $(( $(date +%s) - start )) -ge "$MAX_TOTAL" ]; then
    echo "fuzz: time budget of ${MAX_TOTAL}s used; skipping $dir $name"
    skipped=$((skipped + 1))
    continue
  fi
  echo "fuzz: $dir $name ($FUZZTIME)"
  # -run '^$': only fuzz, the package's tests run in `make test`.
  go test -tags licensetest -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir" 2>&1 \
    | grep -vE '^fuzz: elapsed' || { echo "fuzz: $dir $name FAILED (the crashing input is in $dir/testdata/fuzz/$name/)"; exit 1; }
  ran=$((ran + 1))
done <<< "$targets"

echo "fuzz: $ran targets passed, $skipped skipped, $(( $(date +%s) - start ))s"
[ "$skipped" -eq 0 ]
