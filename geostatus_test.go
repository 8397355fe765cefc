package sessionmanager

import (
	"strings"
	"testing"
)

// TestNewGeoStatusUniqueNames: repeated names get -2, -3..., skipping a
// suffix another source already has.
func TestNewGeoStatusUniqueNames(t *testing.T) {
	st := NewGeoStatus([]GeoSource{{Name: "a"}, {Name: "a"}, {Name: "a-2"}, {Name: "a"}, {Name: "b"}}, true)
	var got []string
	for _, s := range st.Sources {
		got = append(got, s.Name)
	}
	if strings.Join(got, " ") != "a a-3 a-2 a-4 b" {
		t.Errorf("names = %v", got)
	}
}
