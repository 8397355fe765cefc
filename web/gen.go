package web

// The world map is generated from world-atlas@2.0.2 (Natural Earth, public
// domain); run `npm pack world-atlas@2.0.2` in /tmp and unpack it into
// /tmp/world-atlas first. The output is committed.
//go:generate go run ./internal/mapgen -in /tmp/world-atlas/package/countries-110m.json -out static/world.svg
