package risk

import "math"

// earthRadiusKM is the mean Earth radius (IUGG), the usual choice for
// haversine: the spherical error (up to ~0.5%) is far below geo-IP accuracy.
const earthRadiusKM = 6371.0088

// DistanceKM returns the great-circle distance in kilometres between two
// points given in decimal degrees, by the haversine formula. It is correct
// across the antimeridian (longitudes wrap through the sine) and at the
// poles, and returns NaN for NaN input.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	phi1, phi2 := lat1*rad, lat2*rad
	sinDLat := math.Sin((lat2 - lat1) * rad / 2)
	sinDLon := math.Sin((lon2 - lon1) * rad / 2)
	h := sinDLat*sinDLat + math.Cos(phi1)*math.Cos(phi2)*sinDLon*sinDLon
	// Rounding can push h a hair past 1 for antipodal points; Asin would
	// then return NaN.
	h = min(max(h, 0), 1)
	return 2 * earthRadiusKM * math.Asin(math.Sqrt(h))
}

// validCoordinates reports whether lat/lon are finite and on the globe.
func validCoordinates(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
