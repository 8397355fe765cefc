package mapproj

import "testing"

func TestProject(t *testing.T) {
	tests := []struct {
		name     string
		lon, lat float64
		x, y     float64
	}{
		{"top left", -180, North, 0, 0},
		{"bottom right", 180, South, Width, Height},
		{"null island", 0, 0, Width / 2, North / (North - South) * Height},
		{"clamped north", 10, 90, (190.0 / 360) * Width, 0},
		{"clamped south", 10, -89, (190.0 / 360) * Width, Height},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := Project(tt.lon, tt.lat)
			if d := x - tt.x; d > 1e-9 || d < -1e-9 {
				t.Errorf("x = %v, want %v", x, tt.x)
			}
			if d := y - tt.y; d > 1e-9 || d < -1e-9 {
				t.Errorf("y = %v, want %v", y, tt.y)
			}
		})
	}
}
