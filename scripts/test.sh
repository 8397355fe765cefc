#!/usr/bin/env bash
# Runs the whole test suite against real services: PostgreSQL, Redis, the
# real geo data, Chromium and nginx. Starts or installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export SM_TEST_POSTGRES_URL="${SM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export SM_TEST_REDIS_URL="${SM_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
export SM_ARTIFACTS_DIR="${SM_ARTIFACTS_DIR:-$PWD/artifacts}"
mkdir -p "$SM_ARTIFACTS_DIR"

bash scripts/services.sh
# The services are up: a test that would skip for want of one (or of a
# feature, e.g. the npm packages' challenge tests) fails instead.
export SM_REQUIRE_SERVICES="${SM_REQUIRE_SERVICES:-1}"

# Real geo data (never committed): fetched once into a cache outside the repo.
if [ -z "${SM_GEODATA_DIR:-}" ]; then
  SM_GEODATA_DIR="$(bash scripts/fetch-geodata.sh | tail -n 1)"
  export SM_GEODATA_DIR
fi

# Every module of go.work: the library, cmd/loadgen and the browser tests (e2e/).
mapfile -t pkgs < <(bash scripts/packages.sh)
go vet -tags licensetest "${pkgs[@]}"
# -p 2: the machine has two cores; packages that start servers run one at a time within.
go test -tags licensetest -count=1 -p 2 -timeout 40m "${pkgs[@]}" "$@"

# The npm packages (packages/*: the TypeScript SDK, the Strapi plugin) run
# their own tests against the real binary; each has a ci-test.sh that caches
# what it downloads outside the repo (~/.cache/sessionmanager).
for t in packages/*/ci-test.sh; do
  [ -e "$t" ] || continue
  echo "== $t"
  bash "$t"
done
