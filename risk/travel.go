package risk

import (
	"math"
	"strconv"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// impossibleTravel fires when the user's previous session and this login
// are further apart than anyone could travel in the time between them
// (judgeTravel says when it never does).
//
// "Last known there" is the later of the previous session's CreatedAt and
// LastSeenAt: the session was in use then, so the user (or someone holding
// the session) was still active.
func (c *collector) impossibleTravel(a *sm.LoginAttempt, h *sm.LoginHistory) {
	prev := h.Previous
	if prev == nil {
		return
	}
	if a.Geo.Location.Local || sessionIsLocal(prev) {
		return
	}
	lastSeen := prev.CreatedAt
	if prev.LastSeenAt.After(lastSeen) {
		lastSeen = prev.LastSeenAt
	}
	there := sm.SessionPlace{At: lastSeen, Location: prev.Location, Threat: prev.Threat}
	here := sm.SessionPlace{At: a.At, Location: a.Geo.Location, Threat: a.Geo.Threat}
	t := judgeTravel(c.settings, &there, &here)
	if t.impossible {
		c.add(sm.ReasonImpossibleTravel, travelDetail(&there.Location, &here.Location, t.km, t.elapsed, t.speed))
	}
}

// travel is the distance and speed between two places and whether no one
// could have made it.
type travel struct {
	measured   bool // both places have coordinates and times
	km         float64
	elapsed    time.Duration
	speed      float64
	impossible bool
}

// judgeTravel measures the move from there (last known at there.At) to
// here. It is never impossible when either side has no coordinates, is a
// local address, or is anonymous (VPN, proxy, Tor, datacenter: the
// location is the exit's, not the user's; those are judged by their own
// policy), or when the distance is under Settings.TravelMinDistanceKM
// (geo-IP noise and mobile carriers routing through a far-away gateway).
func judgeTravel(s *sm.Settings, there, here *sm.SessionPlace) travel {
	var t travel
	a, b := &there.Location, &here.Location
	if !a.HasCoordinates || !b.HasCoordinates || a.Local || b.Local {
		return t
	}
	if !validCoordinates(a.Latitude, a.Longitude) || !validCoordinates(b.Latitude, b.Longitude) {
		return t
	}
	if there.At.IsZero() || here.At.IsZero() {
		// Without both times there is no speed; a missing time is a caller
		// bug, and guessing "same instant" would accuse every user.
		return t
	}
	t.measured = true
	t.km = DistanceKM(a.Latitude, a.Longitude, b.Latitude, b.Longitude)
	// Clock skew between instances can put this login before the last
	// activity: treat it as the same instant.
	t.elapsed = max(here.At.Sub(there.At), 0)
	t.speed = math.Inf(1)
	if t.elapsed > 0 {
		t.speed = t.km / t.elapsed.Hours()
	}
	if there.Threat.Anonymous() || here.Threat.Anonymous() {
		return t
	}
	if t.km < s.TravelMinDistanceKM || t.km == 0 {
		return t
	}
	limit := s.ImpossibleTravelKMH
	if !(limit > 0) { // zero, negative or NaN: fall back, never "everything is impossible"
		limit = defaults.ImpossibleTravelKMH
	}
	t.impossible = t.speed > limit
	return t
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
