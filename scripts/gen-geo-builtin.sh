#!/usr/bin/env bash
# Regenerates the built-in geo data of geo/builtin (country.bin, asn.bin,
# snapshot.go, LICENSES/) from the pinned ip-location-db npm packages.
# `npm pack` downloads the tarballs; the generator refuses them unless their
# sha512 matches the integrity pinned below, and the same tarballs always
# give byte-identical files. See docs/GEO.md, "Built-in data".
#
#   scripts/gen-geo-builtin.sh              # download the pinned versions
#   GEO_TARBALLS=/dir scripts/gen-geo-builtin.sh   # use tarballs already in /dir
#
# To move to a newer snapshot: change VERSION, run `npm view
# @ip-location-db/asn@NEW dist.integrity` (and for the country package),
# paste both integrities, run this script, review `git diff --stat`, run
# `go test ./geo/...` (the well-known addresses must still resolve), and
# commit the generated files together with this script.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.3.2026061719
COUNTRY_PKG=@ip-location-db/geo-whois-asn-country
COUNTRY_INTEGRITY=sha512-9MQ3r2q+GDLwW+Mye5duWnHe3n1qB1ZcNUcM9P58CpdW86Gt44AgfIrem6Pcy/tbCHhQ70RJCLngQQyYnaEjbw==
ASN_PKG=@ip-location-db/asn
ASN_INTEGRITY=sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==

COUNTRY_TGZ=ip-location-db-geo-whois-asn-country-$VERSION.tgz
ASN_TGZ=ip-location-db-asn-$VERSION.tgz
DIR="${GEO_TARBALLS:-}"
if [ -z "$DIR" ]; then
  DIR="$(mktemp -d)"
  trap 'rm -rf "$DIR"' EXIT
  (cd "$DIR" && npm pack --silent "$COUNTRY_PKG@$VERSION" "$ASN_PKG@$VERSION" >/dev/null)
fi
for f in "$COUNTRY_TGZ" "$ASN_TGZ"; do
  [ -f "$DIR/$f" ] || { echo "gen-geo-builtin: $DIR/$f is missing" >&2; exit 1; }
done

go run ./geo/internal/gengeo \
  -country "$DIR/$COUNTRY_TGZ" -country-integrity "$COUNTRY_INTEGRITY" \
  -asn "$DIR/$ASN_TGZ" -asn-integrity "$ASN_INTEGRITY" \
  -out geo/builtin
ls -l geo/builtin/country.bin geo/builtin/asn.bin
