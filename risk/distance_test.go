package risk

import (
	"math"
	"testing"
)

func TestDistanceKM(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64
	}{
		{"same point", 52.52, 13.405, 52.52, 13.405, 0, 0},
		{"Berlin to Sydney", 52.52, 13.405, -33.8688, 151.2093, 16095, 5},
		{"Berlin to Paris", 52.52, 13.405, 48.8566, 2.3522, 877, 2},
		{"Fiji to Samoa across the antimeridian", -18.1416, 178.4419, -13.8333, -171.7667, 1151, 2},
		{"antimeridian is symmetric", -13.8333, -171.7667, -18.1416, 178.4419, 1151, 2},
		{"179E to 179W on the equator", 0, 179, 0, -179, 222.4, 0.5},
		{"north pole, any longitude", 90, 0, 90, 137, 0, 1e-6},
		{"near the pole across it", 89.5, 0, 89.5, 180, 111.2, 0.5},
		{"pole to pole", 90, 0, -90, 0, 20015.1, 0.5},
		{"antipodes (rounding must not give NaN)", 0, 0, 0, 180, 20015.1, 0.5},
		{"antipodes off the equator", 45, 90, -45, -90, 20015.1, 0.5},
		{"one degree of longitude at the equator", 0, 0, 0, 1, 111.2, 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DistanceKM(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
			if math.IsNaN(got) || math.Abs(got-tc.want) > tc.tolerance {
				t.Errorf("DistanceKM = %.3f, want %.1f ± %.1f", got, tc.want, tc.tolerance)
			}
		})
	}
	if !math.IsNaN(DistanceKM(math.NaN(), 0, 0, 0)) {
		t.Error("NaN input must give NaN")
	}
}

func TestValidCoordinates(t *testing.T) {
	tests := []struct {
		lat, lon float64
		want     bool
	}{
		{0, 0, true}, {90, 180, true}, {-90, -180, true},
		{90.1, 0, false}, {0, 180.5, false}, {math.NaN(), 0, false}, {0, math.Inf(1), false},
	}
	for _, tc := range tests {
		if got := validCoordinates(tc.lat, tc.lon); got != tc.want {
			t.Errorf("validCoordinates(%v, %v) = %v", tc.lat, tc.lon, got)
		}
	}
}
