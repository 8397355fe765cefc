package web

import (
	"fmt"
	"math"
	"sort"

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

// detailMap shows a 200-unit-wide window of the world around one location.
func detailMap(l sm.Location) mapView {
	v := mapView{Width: mapproj.Width, Height: mapproj.Height}
	if !l.HasCoordinates {
		return v
	}
	x, y := mapproj.Project(l.Longitude, l.Latitude)
	const w, h = 200.0, 100.0
	left := math.Max(0, math.Min(mapproj.Width-w, x-w/2))
	top := math.Max(0, math.Min(mapproj.Height-h, y-h/2))
	v.ViewBox = fmt.Sprintf("%g %g %g %g", round1(left), round1(top), w, h)
	v.Dots = []mapDot{{X: round1(x), Y: round1(y), R: 2, HaloR: 4, Count: 1, Label: placeText(l)}}
	v.Shown = true
	return v
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
