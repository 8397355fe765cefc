#!/usr/bin/env bash
# The TypeScript SDK (@magic-sessionmanager/sdk): install with the npm cache
# outside the repository, build ESM + CJS, then run its tests (node --test)
# against the real sessionmanager binary, built into the same cache.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"
cache="${SM_CACHE_DIR:-$HOME/.cache/sessionmanager}"
mkdir -p "$cache/npm" "$cache/sdk"
npm ci --cache "$cache/npm" --prefer-offline --no-audit --no-fund --loglevel=error
npm run build
npm run typecheck   # the declarations as ESM and CommonJS consumers see them
# -tags licensetest: the binary trusts a vendor key the challenge test makes
# (the challenge action is Advanced). A test binary in the cache only; never
# ship a licensetest build.
# That build has every feature the tests use: none of them may skip.
export SM_REQUIRE_SERVICES="${SM_REQUIRE_SERVICES:-1}"
(cd "$repo" && go build -tags licensetest -o "$cache/sdk/sessionmanager" ./cmd/sessionmanager)
# A hung test (a browser under heavy load) fails within 15 minutes instead of
# holding CI: --test-timeout bounds each test, this bounds the whole run.
SM_BINARY="$cache/sdk/sessionmanager" timeout --kill-after=20 900 npm test
