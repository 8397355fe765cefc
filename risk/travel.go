package risk

import (
	"math"
	"strconv"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// impossibleTravel fires when the user's previous session and this login
// are further apart than anyone could travel in the time between them.
//
// "Last known there" is the later of the previous session's CreatedAt and
// LastSeenAt: the session was in use then, so the user (or someone holding
// the session) was still active. Skipped when either side has no
// coordinates, is a local address, or is anonymous (VPN, proxy, Tor,
// datacenter: the location is the exit's, not the user's), and when the
// distance is under Settings.TravelMinDistanceKM (geo-IP noise and mobile
// carriers routing through a far-away gateway).
func (c *collector) impossibleTravel(a *sm.LoginAttempt, h *sm.LoginHistory) {
	prev := h.Previous
	if prev == nil {
		return
	}
	here, there := &a.Geo.Location, &prev.Location
	if !here.HasCoordinates || !there.HasCoordinates || here.Local || sessionIsLocal(prev) {
		return
	}
	if a.Geo.Threat.Anonymous() || prev.Threat.Anonymous() {
		return
	}
	if !validCoordinates(here.Latitude, here.Longitude) || !validCoordinates(there.Latitude, there.Longitude) {
		return
	}
	lastSeen := prev.CreatedAt
	if prev.LastSeenAt.After(lastSeen) {
		lastSeen = prev.LastSeenAt
	}
	if lastSeen.IsZero() || a.At.IsZero() {
		// Without both times there is no speed; a missing time is a caller
		// bug, and guessing "same instant" would accuse every user.
		return
	}
	s := c.settings
	km := DistanceKM(there.Latitude, there.Longitude, here.Latitude, here.Longitude)
	if km < s.TravelMinDistanceKM || km == 0 {
		return
	}
	// Clock skew between instances can put this login before the last
	// activity: treat it as the same instant.
	elapsed := max(a.At.Sub(lastSeen), 0)
	speed := math.Inf(1)
	if elapsed > 0 {
		speed = km / elapsed.Hours()
	}
	limit := s.ImpossibleTravelKMH
	if !(limit > 0) { // zero, negative or NaN: fall back, never "everything is impossible"
		limit = defaults.ImpossibleTravelKMH
	}
	if speed <= limit {
		return
	}
	c.add(sm.ReasonImpossibleTravel, travelDetail(there, here, km, elapsed, speed))
}

// travelDetail reads "Berlin, DE -> Sydney, AU: 16,080 km in 1h 10m
// (13,783 km/h)".
func travelDetail(from, to *sm.Location, km float64, elapsed time.Duration, speed float64) string {
	b := make([]byte, 0, 96)
	b = appendPlace(b, from)
	b = append(b, " -> "...)
	b = appendPlace(b, to)
	b = append(b, ": "...)
	b = appendThousands(b, int64(math.Round(km)))
	if elapsed < time.Second {
		return string(append(b, " km at the same time"...))
	}
	b = append(b, " km in "...)
	b = appendElapsed(b, elapsed)
	b = append(b, " ("...)
	b = appendThousands(b, int64(math.Round(min(speed, 1e15))))
	b = append(b, " km/h)"...)
	return string(b)
}

// appendPlace writes "City, CC", the country alone, or the coordinates.
func appendPlace(b []byte, l *sm.Location) []byte {
	switch {
	case l.City != "" && l.CountryCode != "":
		b = append(b, l.City...)
		b = append(b, ", "...)
		return append(b, l.CountryCode...)
	case l.City != "":
		return append(b, l.City...)
	case l.CountryCode != "":
		return append(b, countryLabel(l)...)
	}
	b = strconv.AppendFloat(b, l.Latitude, 'f', 2, 64)
	b = append(b, ',')
	return strconv.AppendFloat(b, l.Longitude, 'f', 2, 64)
}
