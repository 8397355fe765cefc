package sessionmanager

import (
	"context"
	"hash/maphash"
	"net/netip"
	"time"
)

// Session protection (issue 18, docs/RISK.md "Session-time signals"): a
// live session is compared with its own record on every authenticated
// request (watch, here: one compare of the address and a hash of the user
// agent with the cached fingerprint) and on every refresh (guardRefresh).
// A difference is judged once (protect_judge.go): geo lookup, user-agent
// parse, the SessionJudge's signals and Settings.SessionActions.

// uaSeed hashes user agents for the fingerprint; one seed per process is
// enough (the hash never leaves it).
var uaSeed = maphash.MakeSeed()

// fingerprint is what a cached state remembers of a client: one hash of
// its address and user agent (the seed is random per process, so a client
// cannot make another's); never 0, which means "not known yet".
func fingerprint(ip netip.Addr, ua string) uint64 {
	a := ip.As16()
	return (maphash.String(uaSeed, ua) ^ maphash.Bytes(uaSeed, a[:])*0x9e3779b97f4a7c15) | 1
}

// watch is session protection on an authenticated request: it compares
// the client with the session's record (st) and acts on a change. It must
// cost nothing measurable and allocate nothing when nothing changed.
func (m *Manager) watch(ctx context.Context, sid string, st *sessionState, client *ClientInfo, now time.Time) error {
	if !client.IP.IsValid() && client.UserAgent == "" {
		return nil // a caller that knows nothing of the client (Authenticate)
	}
	fp := fingerprint(client.IP, client.UserAgent)
	if st.fp == fp {
		return nil
	}
	return m.watchMove(ctx, sid, st, client, fp, now)
}

// watchMove judges a request whose address or user agent differs from the
// cached fingerprint. The fingerprint is updated first, so a benign move
// is judged once, on this instance. A move the budget refuses leaves the
// fingerprint as it was, so the next request in a new window is judged
// (an unjudged client must never become the reference).
func (m *Manager) watchMove(ctx context.Context, sid string, st *sessionState, client *ClientInfo, fp uint64, now time.Time) error {
	judge := m.sessionJudge()
	if judge == nil {
		m.states.setFingerprint(sid, fp)
		return nil
	}
	// An attacker alternating addresses makes every request a move: the
	// work per session is bounded, past it moves wait for the next window.
	if !m.protect.budget(sid, now) {
		return nil
	}
	m.states.setFingerprint(sid, fp)
	from, s, err := m.lastPlace(ctx, sid, nil)
	if err != nil {
		m.log.Warn("session protection: the session's last place is unavailable; request not judged", "session", sid, "err", err)
		return nil
	}
	to := m.placeOf(ctx, client, now)
	if from.IP == to.IP && sameDevice(&from.Device, &to.Device) {
		return nil // the user agent's version changed: not a move
	}
	v := judge.JudgeSession(m.effectiveSettings(m.currentSettings(ctx)), SessionMove{From: from, To: to})
	return m.actOnMove(ctx, move{sid: sid, userID: st.userID, session: s, from: from, to: to, verdict: v, client: *client})
}

// guardRefresh is session protection on a refresh of the live session s,
// before its token rotates: a pending challenge must be answered by a
// step-up first, then the refresh is judged like a request (with its own
// device-change action and the refresh count).
func (m *Manager) guardRefresh(ctx context.Context, s *Session, client ClientInfo, now time.Time) error {
	judge := m.sessionJudge()
	if judge == nil {
		return nil
	}
	if challengePending(s) {
		return StepUpRequired(0, "")
	}
	if !client.IP.IsValid() && client.UserAgent == "" {
		return nil
	}
	n, err := m.fails.Incr(ctx, "refresh:"+s.ID, time.Minute)
	if err != nil {
		m.log.Warn("session protection: refresh count unavailable", "session", s.ID, "err", err)
		n = 0
	}
	from, _, err := m.lastPlace(ctx, s.ID, s)
	if err != nil {
		return err
	}
	to := m.placeOf(ctx, &client, now)
	m.states.setFingerprint(s.ID, fingerprint(client.IP, client.UserAgent))
	v := judge.JudgeSession(m.effectiveSettings(m.currentSettings(ctx)), SessionMove{From: from, To: to, Refresh: true, Refreshes: n})
	return m.actOnMove(ctx, move{sid: s.ID, userID: s.UserID, session: s, from: from, to: to, verdict: v, client: client, refresh: true})
}

// sessionJudge is the judge in force: nil when the licence does not
// include session protection, or the risk engine cannot judge sessions.
func (m *Manager) sessionJudge() SessionJudge {
	if !m.allows(FeatureProtect) || !m.allows(FeatureRisk) {
		return nil
	}
	j, _ := m.cfg.Risk.(SessionJudge)
	return j
}

// challengePending reports whether a move asked this session for a
// step-up (trail entry with action challenge) that no proof answered
// since: the session's AuthTime is raised by a step-up.
func challengePending(s *Session) bool {
	for i := len(s.Trail) - 1; i >= 0; i-- {
		e := &s.Trail[i]
		if e.Action == ActionChallenge {
			return e.At.After(s.AuthTime)
		}
	}
	return false
}

// placeOf is where and with what the client is: the geo and threat lookup
// (in memory) and the parsed user agent.
func (m *Manager) placeOf(ctx context.Context, client *ClientInfo, now time.Time) SessionPlace {
	p := SessionPlace{At: now, IP: client.IP, Device: Device{Type: "unknown"}}
	if m.cfg.UserAgents != nil {
		p.Device = m.cfg.UserAgents.Parse(client.UserAgent)
	}
	if m.cfg.Geo != nil && m.allows(FeatureGeo) && client.IP.IsValid() {
		g, err := m.cfg.Geo.Lookup(ctx, client.IP)
		if err == nil {
			p.Location, p.Threat = g.Location, g.Threat
		}
		if !m.allows(FeatureThreat) {
			p.Threat = Threat{}
		}
	}
	return p
}

// sameDevice compares the device families (browser and OS).
func sameDevice(a, b *Device) bool { return a.Browser == b.Browser && a.OS == b.OS }

// lastPlace is where the session was last judged to be: this instance's
// memory, else its stored record (s, or read): the last trail entry, or
// the login itself. It returns the record it used (nil when the memory
// answered), so the move's event does not read it again.
func (m *Manager) lastPlace(ctx context.Context, sid string, s *Session) (SessionPlace, *Session, error) {
	if p, ok := m.protect.place(sid); ok {
		p.At = laterOf(p.At, m.states.lastNoted(sid))
		return p, nil, nil
	}
	if s == nil {
		var err error
		if s, err = m.store.SessionByID(ctx, sid); err != nil {
			return SessionPlace{}, nil, err
		}
	}
	p := SessionPlace{At: laterOf(s.CreatedAt, s.LastSeenAt), IP: s.IP, Location: s.Location, Threat: s.Threat, Device: s.Device}
	if n := len(s.Trail); n > 0 {
		e := &s.Trail[n-1]
		p.IP, p.At = e.IP, laterOf(p.At, e.At)
		for i := n - 1; i >= 0; i-- { // the last person's device recorded
			if d := s.Trail[i].Device; d != "" {
				if d != s.Device.Family() {
					p.Device = deviceOfFamily(d)
				}
				break
			}
		}
		// The comparison point is the last located place (review S #3):
		// an entry without a country does not replace it.
		p.Threat = e.Threat
		for i := n - 1; i >= 0; i-- {
			e := &s.Trail[i]
			if e.CountryCode != "" {
				p.Location = Location{CountryCode: e.CountryCode, City: e.City, ASN: e.ASN, ISP: e.ISP,
					Latitude: e.Latitude, Longitude: e.Longitude, HasCoordinates: e.Latitude != 0 || e.Longitude != 0}
				break
			}
		}
	}
	return p, s, nil
}

// deviceOfFamily is the device a trail entry names ("Chrome/macOS"): only
// its family is known, which is all a comparison uses.
func deviceOfFamily(family string) Device {
	for i := 0; i < len(family); i++ {
		if family[i] == '/' {
			return Device{Type: "recorded", Browser: family[:i], OS: family[i+1:]}
		}
	}
	return Device{Type: "recorded", Browser: family}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fingerprintOf is the fingerprint of a session read from the store: its
// last address, and the login's user agent while the device has not
// changed since (0, "not known", when it has: the first request is judged).
func fingerprintOf(s *Session) uint64 {
	ip := s.IP
	if n := len(s.Trail); n > 0 {
		e := &s.Trail[n-1]
		ip = e.IP
		if e.Device != "" && e.Device != s.Device.Family() {
			return 0
		}
	}
	return fingerprint(ip, s.UserAgent)
}
