// Command mapgen turns the world-atlas TopoJSON (countries-110m.json of the
// npm package world-atlas@2.0.2) into the dashboard's world map SVG, with
// the projection of package mapproj.
//
// Fetch the input with `npm pack world-atlas@2.0.2` into /tmp and unpack it;
// `go generate ./web` then rewrites web/static/world.svg, which is committed
// so that a fresh clone builds with the Go toolchain alone.
//
// The shapes are Natural Earth data, which is in the public domain.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	in := flag.String("in", "/tmp/world-atlas/package/countries-110m.json", "world-atlas countries-110m.json")
	out := flag.String("out", "static/world.svg", "SVG file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mapgen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read the TopoJSON (npm pack world-atlas@2.0.2 into /tmp first): %w", err)
	}
	svg, err := render(raw)
	if err != nil {
		return err
	}
	return os.WriteFile(out, svg, 0o644)
}
