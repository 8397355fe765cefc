package sessionmanager

import (
	"slices"
	"testing"
)

func TestCountriesNamed(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string // a code that must be among the answers; "" = none at all
	}{
		{"UK", "GB"}, {"u.k.", "GB"}, {"united king", "GB"}, {"kingdom", "GB"}, {"England", "GB"},
		{"USA", "US"}, {"america", "US"}, {"Holland", "NL"}, {"netherl", "NL"},
		{"germ", "DE"}, {"cote", "CI"}, {"Ivory", "CI"}, {"turkey", "TR"}, {"turkiye", "TR"},
		{"korea", "KR"}, {"czech", "CZ"}, {"aland", "AX"},
		{"u", ""}, {"", ""}, {"zz", ""}, {"qqq", ""},
	} {
		got := CountriesNamed(tc.text)
		if tc.want == "" {
			if len(got) != 0 {
				t.Errorf("CountriesNamed(%q) = %v, want none", tc.text, got)
			}
			continue
		}
		if !slices.Contains(got, tc.want) {
			t.Errorf("CountriesNamed(%q) = %v, want %s among them", tc.text, got, tc.want)
		}
	}
	// A short text is a whole name, not a prefix: "in" is not India.
	if got := CountriesNamed("in"); slices.Contains(got, "IN") {
		t.Errorf("CountriesNamed(in) = %v", got)
	}
}
