package web

import (
	"strings"
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

func TestSessionMapStaysInsideTheWorld(t *testing.T) {
	for _, l := range []sm.Location{
		{Latitude: 64.8, Longitude: -147.7, HasCoordinates: true}, // Fairbanks: near the left edge
		{Latitude: -41.3, Longitude: 174.8, HasCoordinates: true}, // Wellington: near the right edge
	} {
		v := sessionMap(&sm.Session{Location: l})
		var left, top, w, h float64
		if _, err := fmtSscan(v.ViewBox, &left, &top, &w, &h); err != nil {
			t.Fatal(err)
		}
		if left < 0 || top < 0 || left+w > mapproj.Width || top+h > mapproj.Height {
			t.Errorf("viewBox %q leaves the map", v.ViewBox)
		}
		if d := v.Stops[0]; d.X < left || d.X > left+w || d.Y < top || d.Y > top+h {
			t.Errorf("dot %v,%v outside viewBox %q", d.X, d.Y, v.ViewBox)
		}
	}
	if sessionMap(&sm.Session{}).Shown {
		t.Error("a location without coordinates is shown")
	}
}

// TestSessionMapTrail: the login and the trail's places are marks in time
// order joined by one line, numbered as the trail list, the ones that fired
// a signal flagged, all inside a window that stays on the map.
func TestSessionMapTrail(t *testing.T) {
	s := &sm.Session{
		Location: sm.Location{City: "London", CountryName: "United Kingdom", Latitude: 51.51, Longitude: -0.09, HasCoordinates: true},
		Trail: []sm.TrailEntry{
			{CountryCode: "SE", City: "Linköping", Latitude: 58.41, Longitude: 15.62},
			{CountryCode: "XX"}, // no coordinates: listed, not placed
			{CountryCode: "DE", City: "Falkenstein", Latitude: 50.48, Longitude: 12.37, Signals: []string{"session_country_change"}},
		},
	}
	v := sessionMap(s)
	if !v.Shown || len(v.Stops) != 3 {
		t.Fatalf("stops %+v", v.Stops)
	}
	if v.Stops[0].N != 0 || v.Stops[1].N != 1 || v.Stops[2].N != 3 || v.Stops[1].Flagged || !v.Stops[2].Flagged {
		t.Errorf("numbers and flags %+v", v.Stops)
	}
	if n := len(strings.Fields(v.Line)); n != 3 {
		t.Errorf("line %q joins %d points, want 3", v.Line, n)
	}
	var left, top, w, h float64
	if _, err := fmtSscan(v.ViewBox, &left, &top, &w, &h); err != nil {
		t.Fatal(err)
	}
	for _, st := range v.Stops {
		if st.X < left || st.X > left+w || st.Y < top || st.Y > top+h {
			t.Errorf("stop %d at %v,%v outside viewBox %q", st.N, st.X, st.Y, v.ViewBox)
		}
	}
	if left < 0 || top < 0 || left+w > mapproj.Width || top+h > mapproj.Height || w < 200 || w != 2*h {
		t.Errorf("viewBox %q", v.ViewBox)
	}
	if !strings.Contains(v.Stops[2].Label, "Falkenstein") || !strings.Contains(v.Stops[2].Label, "Country changed") {
		t.Errorf("label %q", v.Stops[2].Label)
	}
	// Around the world: the window is the whole map at most.
	far := &sm.Session{Location: sm.Location{Latitude: 64.8, Longitude: -147.7, HasCoordinates: true},
		Trail: []sm.TrailEntry{{Latitude: -41.3, Longitude: 174.8}}}
	if v := sessionMap(far); v.ViewBox != "0 0 1000 440" {
		t.Errorf("a trail across the world: viewBox %q", v.ViewBox)
	}
	if sessionMap(&sm.Session{Trail: []sm.TrailEntry{{CountryCode: "SE"}}}).Shown {
		t.Error("a map with no coordinates is shown")
	}
}
