package web

import (
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/web/internal/mapproj"
)

func TestWorldMapDots(t *testing.T) {
	at := func(lat, lon float64, city string) *sm.Session {
		return &sm.Session{Location: sm.Location{City: city, CountryName: "X", Latitude: lat, Longitude: lon, HasCoordinates: true}}
	}
	sessions := []*sm.Session{
		at(52.52, 13.40, "Berlin"), at(52.53, 13.41, "Berlin"), // merged: within a few units
		at(40.71, -74.0, "New York"),
		{Location: sm.Location{City: "Nowhere"}}, // no coordinates: no dot
		at(0, 0, "Null Island"),                  // a real 0,0 is placed
	}
	v := worldMap(sessions)
	if len(v.Dots) != 3 {
		t.Fatalf("dots = %d, want 3: %+v", len(v.Dots), v.Dots)
	}
	if v.Dots[0].Count != 2 || v.Dots[0].R <= v.Dots[1].R {
		t.Errorf("the merged Berlin dot should come first and be larger: %+v", v.Dots)
	}
	x, y := mapproj.Project(13.40, 52.52)
	if d := v.Dots[0]; d.X != round1(x) || d.Y != round1(y) {
		t.Errorf("Berlin at %v,%v, want %v,%v", d.X, d.Y, round1(x), round1(y))
	}
	if worldMap(nil).Shown {
		t.Error("an empty map says it shows dots")
	}
}

func TestDetailMapStaysInsideTheWorld(t *testing.T) {
	for _, l := range []sm.Location{
		{Latitude: 64.8, Longitude: -147.7, HasCoordinates: true}, // Fairbanks: near the left edge
		{Latitude: -41.3, Longitude: 174.8, HasCoordinates: true}, // Wellington: near the right edge
	} {
		v := detailMap(l)
		var left, top, w, h float64
		if _, err := fmtSscan(v.ViewBox, &left, &top, &w, &h); err != nil {
			t.Fatal(err)
		}
		if left < 0 || top < 0 || left+w > mapproj.Width || top+h > mapproj.Height {
			t.Errorf("viewBox %q leaves the map", v.ViewBox)
		}
		if d := v.Dots[0]; d.X < left || d.X > left+w || d.Y < top || d.Y > top+h {
			t.Errorf("dot %v,%v outside viewBox %q", d.X, d.Y, v.ViewBox)
		}
	}
	if detailMap(sm.Location{}).Shown {
		t.Error("a location without coordinates is shown")
	}
}
