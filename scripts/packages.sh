#!/usr/bin/env bash
# Prints the package patterns of every module of the workspace (go.work):
# the library (./...), the load tool (./cmd/loadgen/...) and the browser
# tests (./e2e/...). `./...` alone stops at a nested go.mod, so every
# command that means "all the code" (make test, vet, staticcheck) takes
# these patterns instead.
set -euo pipefail
cd "$(dirname "$0")/.."
go list -m -f '{{.Dir}}' | while read -r dir; do
  rel=${dir#"$PWD"}
  echo ".${rel}/..."
done
