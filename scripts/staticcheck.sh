#!/usr/bin/env bash
# Runs staticcheck on every module of go.work (scripts/packages.sh), with the
# licensetest build tag as `make test` builds them. staticcheck is pinned by
# the `tool` directive of tools/go.mod (a module of its own, outside go.work:
# the service never depends on it); it is fetched through the module proxy
# into the module cache once and built from the build cache afterwards.
# Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(mktemp -d /tmp/sm-staticcheck.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
(cd tools && GOWORK=off go build -o "$bin/staticcheck" honnef.co/go/tools/cmd/staticcheck)
"$bin/staticcheck" -version
mapfile -t pkgs < <(bash scripts/packages.sh)
"$bin/staticcheck" -tags licensetest "${pkgs[@]}"
echo "staticcheck: no findings in ${pkgs[*]}"
