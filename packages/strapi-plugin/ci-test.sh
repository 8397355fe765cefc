#!/usr/bin/env bash
# The Strapi plugin (@magic-sessionmanager/strapi-plugin): builds the SDK it
# depends on (file:../sdk) and the plugin, installs the Strapi 5 test app
# (test/app) ONCE into the cache outside the repository, keyed by the hash
# of its package-lock.json, builds the sessionmanager binary into the same
# cache, then runs the tests (node --test) in a real Strapi against it.
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../.. && pwd)"
cache="${SM_CACHE_DIR:-$HOME/.cache/sessionmanager}"
npm_flags=(--cache "$cache/npm" --prefer-offline --no-audit --no-fund --loglevel=error)
mkdir -p "$cache/npm" "$cache/strapi-plugin"

(cd ../sdk && npm ci "${npm_flags[@]}" && npm run build)
npm ci "${npm_flags[@]}"
npm run build

# The Strapi app: about 4 minutes the first time (better-sqlite3 compiles),
# nothing afterwards. Installed beside its final place and moved there
# when complete, so an interrupted install is never taken for a good one.
hash="$(sha256sum test/app/package-lock.json | cut -c1-16)"
app="$cache/strapi-$hash"
if [ ! -e "$app/.installed" ]; then
  echo "== installing the Strapi test app into $app"
  tmp="$app.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp test/app/package.json test/app/package-lock.json "$tmp/"
  (cd "$tmp" && npm ci "${npm_flags[@]}")
  touch "$tmp/.installed"
  rm -rf "$app"
  mv "$tmp" "$app"
fi

# -tags licensetest: the binary trusts a vendor key the test makes (through
# SM_LICENSE_PUBLIC_KEY) so the challenge test can use the Advanced edition.
# A test binary only, in the cache; never ship a licensetest build.
# That build has every feature the tests use: none of them may skip.
export SM_REQUIRE_SERVICES="${SM_REQUIRE_SERVICES:-1}"
(cd "$repo" && go build -tags licensetest -o "$cache/strapi-plugin/sessionmanager" ./cmd/sessionmanager)
# A hung test fails within 15 minutes instead of holding CI.
STRAPI_APP_MODULES="$app/node_modules" SM_BINARY="$cache/strapi-plugin/sessionmanager" timeout --kill-after=20 900 npm test
