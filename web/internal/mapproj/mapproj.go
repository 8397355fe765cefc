// Package mapproj is the one map projection of the dashboard: the world SVG
// is generated with it and the session dots are placed with it, so both
// always line up.
package mapproj

// Width and Height are the size of the world map in SVG user units. The
// map is equirectangular and cropped to the latitudes people live at.
const (
	Width  = 1000.0
	Height = 440.0
	// North and South are the latitudes of the map's top and bottom edges.
	North = 84.0
	South = -60.0
)

// Project maps a longitude/latitude in degrees to SVG x/y (equirectangular).
// Latitudes outside [South, North] are clamped to the edge.
func Project(lon, lat float64) (x, y float64) {
	lon = max(-180, min(180, lon))
	lat = max(South, min(North, lat))
	x = (lon + 180) / 360 * Width
	y = (North - lat) / (North - South) * Height
	return x, y
}
