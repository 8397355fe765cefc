package risk

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// countryField matches the path of a country error.
var countryField = regexp.MustCompile(`^(allowedCountries|blockedCountries)\[(\d+)\]$`)

// FuzzNormalizeSettings feeds random comma-separated country lists and
// checks what NormalizeSettings promises: it never panics, every error
// names a real list position, and an accepted document is upper-case,
// de-duplicated, valid, disjoint and stable under a second call.
func FuzzNormalizeSettings(f *testing.F) {
	f.Add("DE,AT", "RU")
	f.Add(" de , at,DE", "ru,RU")
	f.Add("DE", "de")
	f.Add("XX,,\x00", "\u00e9s,ÄT")
	f.Fuzz(func(t *testing.T, allowed, blocked string) {
		s := sm.DefaultSettings()
		s.AllowedCountries = split(allowed)
		s.BlockedCountries = split(blocked)
		inputs := map[string]int{"allowedCountries": len(s.AllowedCountries), "blockedCountries": len(s.BlockedCountries)}
		errs := NormalizeSettings(s)
		for field := range errs {
			m := countryField.FindStringSubmatch(field)
			if m == nil {
				t.Fatalf("unexpected error field %q: %v", field, errs)
			}
			if i, _ := strconv.Atoi(m[2]); i >= inputs[m[1]] {
				t.Fatalf("%s names a position past the input (%d)", field, inputs[m[1]])
			}
		}
		if len(errs) > 0 {
			return
		}
		for _, list := range [][]string{s.AllowedCountries, s.BlockedCountries} {
			seen := map[string]bool{}
			for _, code := range list {
				if code != strings.ToUpper(code) || len(code) != 2 || !sm.ValidCountry(code) || seen[code] {
					t.Fatalf("accepted bad or duplicate code %q in %q", code, list)
				}
				seen[code] = true
			}
		}
		for _, code := range s.BlockedCountries {
			if containsFold(s.AllowedCountries, code) {
				t.Fatalf("%q both allowed and blocked", code)
			}
		}
		again := *s
		again.AllowedCountries = append([]string(nil), s.AllowedCountries...)
		again.BlockedCountries = append([]string(nil), s.BlockedCountries...)
		if errs := NormalizeSettings(&again); errs != nil ||
			strings.Join(again.AllowedCountries, ",") != strings.Join(s.AllowedCountries, ",") ||
			strings.Join(again.BlockedCountries, ",") != strings.Join(s.BlockedCountries, ",") {
			t.Fatalf("not idempotent: %v %q %q", errs, again.AllowedCountries, again.BlockedCountries)
		}
	})
}

// split turns "a,b" into a list; "" is an empty list.
func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
