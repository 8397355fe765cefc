package web

import (
	"fmt"
	"math"
	"sort"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/web/internal/mapproj"
)

// mapDot is one place with live sessions, in map coordinates.
type mapDot struct {
	X, Y  float64
	R     float64
	HaloR float64
	Count int
	Label string
}

// mapView is the world map with its dots and the part of it to show.
type mapView struct {
	ViewBox string
	Width   float64
	Height  float64
	Dots    []mapDot
	// Shown is false when there was nothing to place.
	Shown bool
}

// worldMap places one dot per place with sessions, sized by how many.
func worldMap(sessions []*sm.Session) mapView {
	type key struct{ x, y int }
	byPlace := map[key]*mapDot{}
	var order []key
	for _, s := range sessions {
		l := s.Location
		if !l.HasCoordinates {
			continue
		}
		x, y := mapproj.Project(l.Longitude, l.Latitude)
		k := key{int(math.Round(x / 4)), int(math.Round(y / 4))} // merge dots closer than ~4 units
		d, ok := byPlace[k]
		if !ok {
			d = &mapDot{X: round1(x), Y: round1(y), Label: placeText(l)}
			byPlace[k] = d
			order = append(order, k)
		}
		d.Count++
	}
	v := mapView{ViewBox: fmt.Sprintf("0 0 %g %g", mapproj.Width, mapproj.Height), Width: mapproj.Width, Height: mapproj.Height}
	for _, k := range order {
		d := byPlace[k]
		d.R = round1(3 + math.Min(9, 2*math.Log2(float64(d.Count))))
		d.HaloR = d.R + 4
		v.Dots = append(v.Dots, *d)
	}
	// Big dots first so small ones stay visible on top.
	sort.SliceStable(v.Dots, func(i, j int) bool { return v.Dots[i].Count > v.Dots[j].Count })
	v.Shown = len(v.Dots) > 0
	return v
}

// trailStop is one place on a session's map: its login (N 0) or the Nth
// trail entry; Flagged when the move fired a session-protection signal.
type trailStop struct {
	N       int
	X, Y    float64
	Flagged bool
	Label   string
}

// sessionMapView is a session's map: the login and the trail's places,
// joined in time order by Line (SVG polyline points). R and Font scale the
// marks to the window, so they look alike however far the session went.
type sessionMapView struct {
	ViewBox       string
	Width, Height float64
	// Shown is false when there was nothing to place.
	Shown   bool
	Stops   []trailStop
	Line    string
	R, Font float64
}

// sessionMap shows the window of the world around a session's login and
// the places of its trail: at least 200x100 units, 2:1, inside the map.
func sessionMap(s *sm.Session) sessionMapView {
	v := sessionMapView{Width: mapproj.Width, Height: mapproj.Height}
	if s.Location.HasCoordinates {
		x, y := mapproj.Project(s.Location.Longitude, s.Location.Latitude)
		v.Stops = append(v.Stops, trailStop{X: round1(x), Y: round1(y), Label: "Login: " + placeText(s.Location)})
	}
	for i, e := range s.Trail {
		if e.Latitude == 0 && e.Longitude == 0 { // no coordinates (geo lookup found none)
			continue
		}
		x, y := mapproj.Project(e.Longitude, e.Latitude)
		v.Stops = append(v.Stops, trailStop{N: i + 1, X: round1(x), Y: round1(y), Flagged: len(e.Signals) > 0, Label: trailLabel(i+1, e)})
	}
	if len(v.Stops) == 0 {
		return v
	}
	minX, minY, maxX, maxY := v.Stops[0].X, v.Stops[0].Y, v.Stops[0].X, v.Stops[0].Y
	points := make([]string, len(v.Stops))
	for i, st := range v.Stops {
		minX, maxX, minY, maxY = math.Min(minX, st.X), math.Max(maxX, st.X), math.Min(minY, st.Y), math.Max(maxY, st.Y)
		points[i] = fmt.Sprintf("%g,%g", st.X, st.Y)
	}
	const pad = 30.0
	w := math.Max(200, math.Max(maxX-minX+2*pad, 2*(maxY-minY+2*pad)))
	h := w / 2
	if w > mapproj.Width || h > mapproj.Height { // a trail across the world: all of it
		w, h = mapproj.Width, mapproj.Height
	}
	left := math.Max(0, math.Min(mapproj.Width-w, (minX+maxX)/2-w/2))
	top := math.Max(0, math.Min(mapproj.Height-h, (minY+maxY)/2-h/2))
	v.ViewBox = fmt.Sprintf("%g %g %g %g", round1(left), round1(top), round1(w), round1(h))
	v.R, v.Font = round1(w/70), round1(w/48)
	if len(v.Stops) > 1 {
		v.Line = strings.Join(points, " ")
	}
	v.Shown = true
	return v
}

// trailLabel is the text of the nth trail entry (its map mark's tooltip).
func trailLabel(n int, e sm.TrailEntry) string {
	parts := []string{fmt.Sprintf("%d. %s", n, fmtTime(e.At)), e.IP.String(), trailPlace(e)}
	if e.ISP != "" {
		parts = append(parts, e.ISP)
	}
	if e.Device != "" {
		parts = append(parts, e.Device)
	}
	for _, sig := range e.Signals {
		parts = append(parts, "⚠ "+reasonLabel(sig))
	}
	return strings.Join(parts, " · ")
}

// trailPlace is where a trail entry was: "City, Country", or what is known.
func trailPlace(e sm.TrailEntry) string {
	switch {
	case e.City != "" && e.CountryCode != "":
		return e.City + ", " + countryName(e.CountryCode)
	case e.CountryCode != "":
		return countryName(e.CountryCode)
	case e.City != "":
		return e.City
	}
	return "Unknown place"
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
