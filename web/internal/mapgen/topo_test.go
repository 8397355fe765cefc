package main

import (
	"strings"
	"testing"
)

// A two-arc square (quantised, delta-encoded) and Antarctica, which is left out.
const tinyTopo = `{"type":"Topology","transform":{"scale":[1,1],"translate":[0,0]},
"arcs":[[[0,0],[10,0],[0,10]],[[10,10],[-10,0],[0,-10]],[[0,-70],[5,0]]],
"objects":{"countries":{"type":"GeometryCollection","geometries":[
{"type":"Polygon","id":"276","arcs":[[0,1]]},
{"type":"Polygon","id":"010","arcs":[[2]]}]}}}`

func TestRender(t *testing.T) {
	svg, err := render([]byte(tinyTopo))
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	// (0,0) projects to x=500, y=84/144*440=256.7; (10,0) to x=527.8.
	if !strings.Contains(s, `<path d="M500,256.7L527.8,256.7L527.8,226.1L500,226.1L500,256.7Z"/>`) {
		t.Errorf("square path missing or wrong:\n%s", s)
	}
	if strings.Count(s, "<path") != 1 {
		t.Errorf("Antarctica should be left out:\n%s", s)
	}
}

// A ring that steps from 179°E to 179°W is split, not drawn across the map.
func TestRenderSplitsAtAntimeridian(t *testing.T) {
	const topo = `{"type":"Topology","arcs":[[[179,60],[179,65],[-179,65],[-179,60]]],
"objects":{"countries":{"type":"GeometryCollection","geometries":[{"type":"Polygon","id":"643","arcs":[[0]]}]}}}`
	svg, err := render([]byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "Z") || strings.Count(string(svg), "M") != 2 {
		t.Errorf("want two subpaths:\n%s", svg)
	}
}

func TestRenderRejectsNonTopology(t *testing.T) {
	for _, in := range []string{`{}`, `not json`, `{"type":"Topology","objects":{}}`} {
		if _, err := render([]byte(in)); err == nil {
			t.Errorf("render(%q) = nil error", in)
		}
	}
}
