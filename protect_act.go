package sessionmanager

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// move is one judged move of a live session.
type move struct {
	sid, userID string
	// session is the session as read by a refresh, or by the request's
	// judgement for its last place (nil when it was not read).
	session  *Session
	from, to SessionPlace
	verdict  SessionVerdict
	// client is a copy: a pointer would make the hot path's ClientInfo
	// escape to the heap on every request.
	client  ClientInfo
	refresh bool
}

// actOnMove records the move (trail, event) and takes the verdict's
// action: allow and alert let the request through; challenge makes the
// next refresh (this one, on a refresh) ask for a step-up; terminate ends
// the session on every instance and refuses this request.
func (m *Manager) actOnMove(ctx context.Context, mv move) error {
	v := &mv.verdict
	last := mv.to
	if !last.Device.Personal() {
		// A script's request between two browsers must not hide the
		// change between them: the last personal device stays the one
		// compared.
		last.Device = mv.from.Device
	}
	if last.Location.CountryCode == "" && mv.from.Location.CountryCode != "" {
		// A hop through an address with no country must not become the
		// start of the next comparison: the last located place stays the
		// one compared (review S #3).
		last.Location, last.At = mv.from.Location, mv.from.At
	}
	m.protect.setPlace(mv.sid, last)
	moved := mv.from.IP != mv.to.IP || (mv.to.Device.Personal() && !sameDevice(&mv.from.Device, &mv.to.Device))
	if !moved && len(v.Signals) == 0 {
		return nil
	}
	note := TrailNote{SessionID: mv.sid, Entry: trailEntry(&mv.to, v)}
	if v.Action.Strength() >= ActionAlert.Strength() {
		note.Suspected = v.Reason
	}
	switch v.Action {
	case ActionChallenge, ActionTerminate:
		// The mark must be in the store before anyone acts on it: the next
		// refresh, on any instance, reads it (challenge); the session's
		// page shows why it ended (terminate).
		note.Entry.Action = v.Action
		if err := m.appendTrailNow(ctx, note); err != nil {
			m.log.Warn("session protection: trail not written; kept for the next flush", "session", mv.sid, "err", err)
			m.protect.queue(note)
		}
	default:
		m.protect.queue(note)
	}
	if v.Action == ActionAllow {
		return nil
	}
	if m.eventAllowed(&mv) {
		m.anomalyEvent(ctx, &mv)
	}
	switch v.Action {
	case ActionTerminate:
		if err := m.endSession(ctx, mv.sid, mv.userID, EndHijackSuspected, Actor{Type: ActorSystem}, mv.client); err != nil {
			return err
		}
		return terminated(EndHijackSuspected)
	case ActionChallenge:
		if mv.refresh {
			return StepUpRequired(0, "")
		}
	}
	return nil
}

// eventAllowed reports whether the move's session.anomaly event (and its
// alert) is recorded. A refresh is judged every time, so a client replaying
// refreshes (refresh_anomaly on each) would record one per refresh: alert
// events of refreshes take from a per-session budget of the minute, the
// size of the request-time judging budget. Challenge and terminate happen
// once (a pending challenge stops the refreshes before they are judged; a
// termination ends the session): always recorded.
func (m *Manager) eventAllowed(mv *move) bool {
	if !mv.refresh || mv.verdict.Action != ActionAlert {
		return true
	}
	n := m.protect.use(mv.sid, mv.to.At, func(w *watched) *window { return &w.events })
	if n == maxJudgedPerMinute+1 {
		m.log.Warn("session protection: too many anomalous refreshes of one session; their events wait for the next minute (each is still judged)",
			"session", mv.sid, "perMinute", maxJudgedPerMinute)
	}
	return n <= maxJudgedPerMinute
}

// trailEntry is the trail's record of a place and the signals it fired.
func trailEntry(p *SessionPlace, v *SessionVerdict) TrailEntry {
	e := TrailEntry{At: p.At.UTC(), IP: p.IP, CountryCode: p.Location.CountryCode, City: p.Location.City,
		ASN: p.Location.ASN, ISP: p.Location.ISP, Threat: p.Threat}
	if p.Location.HasCoordinates {
		e.Latitude, e.Longitude = p.Location.Latitude, p.Location.Longitude
	}
	if p.Device.Personal() {
		// Only a person's device is recorded: another instance reading
		// the trail compares families, and a back end's HTTP library
		// there would make the user's own browser a device change.
		e.Device = p.Device.Family()
	}
	for _, r := range v.Signals {
		e.Signals = append(e.Signals, r.Code)
	}
	return e
}

// anomalyEvent records session.anomaly (audit, and the input of the alert
// rules with trigger session_anomaly).
func (m *Manager) anomalyEvent(ctx context.Context, mv *move) {
	v := &mv.verdict
	a := &SessionAnomaly{Signals: v.Signals, Action: v.Action, Refresh: mv.refresh,
		Before: anomalyPlace(&mv.from), After: anomalyPlace(&mv.to), DistanceKM: v.DistanceKM, SpeedKMH: v.SpeedKMH}
	data, _ := json.Marshal(anomalyData(a))
	personal, _ := json.Marshal(map[string]string{"beforeIp": a.Before.IP, "afterIp": a.After.IP})
	e := &Event{Type: EventSessionAnomaly, ActorType: ActorSystem, UserID: mv.userID, SessionID: mv.sid,
		Country: mv.to.Location.CountryCode, IP: a.After.IP, UserAgent: mv.client.UserAgent, Data: data, Personal: personal}
	in := &AlertInput{Session: mv.session, Location: mv.to.Location, Threat: mv.to.Threat, Device: mv.to.Device, Anomaly: a}
	if in.Session == nil {
		in.Session, _ = m.store.SessionByID(ctx, mv.sid)
	}
	in.User, _ = m.store.UserByID(ctx, mv.userID)
	m.audit(ctx, e, in)
}

// anomalyData is the event's non-personal data: the anomaly without the
// addresses (they are in the erasable personal part).
func anomalyData(a *SessionAnomaly) SessionAnomaly {
	d := *a
	d.Before.IP, d.After.IP = "", ""
	return d
}

// Bounds of session protection's memory on one instance.
const (
	// maxJudgedPerMinute is how many moves of one session are judged per
	// minute; past it, moves wait for the next minute. It is also how many
	// alert events of one session's refreshes are recorded per minute.
	maxJudgedPerMinute = 10
	// maxPendingTrail bounds the trail notes waiting for a flush (a store
	// outage): past it the newest are dropped, and logged.
	maxPendingTrail = 20000
)

// protection is this instance's memory of session protection: where each
// judged session was last seen, the judging budget, and the trail notes
// waiting for the next flush.
type protection struct {
	mu      sync.Mutex
	places  map[string]*watched
	pending []TrailNote
	dropped int
}

// watched is one session's last judged place and budgets: moves judged
// and refresh events recorded in the current minute.
type watched struct {
	place          SessionPlace
	judged, events window
}

// window counts uses in the minute from start.
type window struct {
	start time.Time
	n     int
}

func (p *protection) entry(sid string) *watched {
	if p.places == nil {
		p.places = make(map[string]*watched)
	}
	w := p.places[sid]
	if w == nil {
		w = &watched{}
		p.places[sid] = w
	}
	return w
}

// budget takes one judgement from the session's budget of the minute.
func (p *protection) budget(sid string, now time.Time) bool {
	return p.use(sid, now, func(w *watched) *window { return &w.judged }) <= maxJudgedPerMinute
}

// use counts one use of the session's window (which) at now, starting a
// new window when a minute has passed, and returns the uses so far in it.
func (p *protection) use(sid string, now time.Time, which func(*watched) *window) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := which(p.entry(sid))
	if now.Sub(w.start) >= time.Minute || now.Before(w.start) {
		w.start, w.n = now, 0
	}
	w.n++
	return w.n
}

// place is the session's last judged place on this instance.
func (p *protection) place(sid string) (SessionPlace, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.places[sid]
	if w == nil || w.place.At.IsZero() {
		return SessionPlace{}, false
	}
	return w.place, true
}

func (p *protection) setPlace(sid string, pl SessionPlace) {
	p.mu.Lock()
	p.entry(sid).place = pl
	p.mu.Unlock()
}

// forget drops an ended session.
func (p *protection) forget(sid string) {
	p.mu.Lock()
	delete(p.places, sid)
	p.mu.Unlock()
}

// prune forgets sessions neither judged nor moved since before.
func (p *protection) prune(before time.Time) {
	p.mu.Lock()
	for sid, w := range p.places {
		if w.place.At.Before(before) && w.judged.start.Before(before) && w.events.start.Before(before) {
			delete(p.places, sid)
		}
	}
	p.mu.Unlock()
}

func (p *protection) queue(notes ...TrailNote) {
	p.mu.Lock()
	for _, n := range notes {
		if len(p.pending) >= maxPendingTrail {
			p.dropped++
			continue
		}
		p.pending = append(p.pending, n)
	}
	p.mu.Unlock()
}

func (p *protection) take() (notes []TrailNote, dropped int) {
	p.mu.Lock()
	notes, p.pending = p.pending, nil
	dropped, p.dropped = p.dropped, 0
	p.mu.Unlock()
	return notes, dropped
}

// appendTrailNow writes one note at once (a challenge or a termination).
func (m *Manager) appendTrailNow(ctx context.Context, note TrailNote) error {
	return m.store.AppendTrail(ctx, []TrailNote{note})
}

// flushTrail writes the pending trail notes in batches of 500, with the
// last-seen flush: never one store write per request.
func (m *Manager) flushTrail(ctx context.Context) error {
	notes, dropped := m.protect.take()
	if dropped > 0 {
		m.log.Warn("session protection: trail notes dropped, the store was unreachable too long", "dropped", dropped)
	}
	for len(notes) > 0 {
		n := min(len(notes), 500)
		if err := m.store.AppendTrail(ctx, notes[:n]); err != nil {
			m.protect.queue(notes...)
			return err
		}
		notes = notes[n:]
	}
	return nil
}
