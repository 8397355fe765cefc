package risk

import (
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// GeoLookup failure policies (Settings.GeoLookupFailure).
const (
	GeoFailureAllow = sm.GeoFailureAllow
	GeoFailureBlock = sm.GeoFailureBlock
)

// Fenced reports whether the geo-fence of s refuses a login from country
// (an ISO code, "" when unknown) and why, in words for an admin.
//
//   - A local (private) address is never fenced: it has no country.
//   - A blocked country is refused.
//   - A non-empty allow list refuses every country not on it.
//   - An unknown country under an allow list is refused only when
//     GeoLookupFailure is "block": the operator who fails closed on a broken
//     lookup also fails closed on an address no database can place, while
//     the default ("allow") keeps users on new or unlisted ranges signing in.
func Fenced(s *sm.Settings, country string, local bool) (refused bool, detail string) {
	if s == nil {
		s = defaults
	}
	if local {
		return false, ""
	}
	if country == "" {
		if len(s.AllowedCountries) > 0 && failsClosed(s) {
			return true, "country unknown and only allowed countries may sign in"
		}
		return false, ""
	}
	if containsFold(s.BlockedCountries, country) {
		return true, country + " is a blocked country"
	}
	if len(s.AllowedCountries) > 0 && !containsFold(s.AllowedCountries, country) {
		return true, country + " is not an allowed country"
	}
	return false, ""
}

// failsClosed reports whether s blocks on a failed or empty geo lookup.
// Anything but "block" (in any case) means allow, the default.
func failsClosed(s *sm.Settings) bool {
	return strings.EqualFold(s.GeoLookupFailure, GeoFailureBlock)
}
