package sessionmanager

import (
	"context"
	"sync"
	"time"
)

// record appends an event to the audit log, with the alert deliveries its
// rules produce (in the same transaction), and wakes the outbox worker.
// in is nil for events no alert rule looks at.
func (m *Manager) record(ctx context.Context, e *Event, in *AlertInput) error {
	if e.At.IsZero() {
		e.At = m.clock.Now()
	}
	if e.ActorType == "" {
		e.ActorType = ActorSystem
	}
	// Whatever path the event took, what the client sent is stored as clean
	// text (one odd byte must not lose an audit event on Postgres).
	e.UserAgent = cleanText(e.UserAgent, 1024)
	var deliveries []*Delivery
	if in != nil && m.cfg.Alerter != nil && m.allows(FeatureAlerts) {
		in.Event = e
		ds, err := m.cfg.Alerter.Deliveries(ctx, *in)
		if err != nil {
			// An alert rule must never cost a login: log and record the event.
			m.log.Error("alert rules failed", "event", e.Type, "err", err)
		}
		deliveries = ds
	}
	// The append is not cancelled with the request: a store may drop an
	// event whose caller gave up while it waited its turn, and most events
	// describe something already done (an erasure, a changed factor, a
	// blocked login) that a client closing its connection must not leave
	// unrecorded.
	if err := m.store.AppendEvent(context.WithoutCancel(ctx), e, deliveries); err != nil {
		return err
	}
	if len(deliveries) > 0 && m.cfg.KickOutbox != nil {
		m.cfg.KickOutbox()
	}
	return nil
}

// audit records an event for an action already done (the action must not
// be undone). A failed write is kept and retried by the next few Flushes
// (every second under Run, and the last one at shutdown): a store hiccup
// must not lose the audit trail, nor the revocation feed that reads it.
func (m *Manager) audit(ctx context.Context, e *Event, in *AlertInput) {
	err := m.record(ctx, e, in)
	if err == nil {
		return
	}
	if !m.retries.add(auditRetry{e: e, in: in}) {
		m.log.Error("audit event lost: too many awaiting a retry", "type", e.Type, "session", e.SessionID, "err", err)
		return
	}
	m.log.Warn("audit event not recorded; retrying", "type", e.Type, "err", err)
}

// Audit retries: how many failed events wait at most, and how many Flushes
// try each before it is given up.
const (
	auditRetryMax   = 1000
	auditRetryTries = 5
)

// auditRetry is an audit event whose write failed.
type auditRetry struct {
	e     *Event
	in    *AlertInput
	tries int
}

// auditRetries holds the failed audit events until a Flush writes them.
type auditRetries struct {
	mu      sync.Mutex
	pending []auditRetry
}

func (r *auditRetries) add(a auditRetry) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= auditRetryMax {
		return false
	}
	r.pending = append(r.pending, a)
	return true
}

func (r *auditRetries) take() []auditRetry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.pending
	r.pending = nil
	return out
}

// retryAudits writes the failed audit events again; one that fails
// auditRetryTries times is logged as lost.
func (m *Manager) retryAudits(ctx context.Context) {
	for _, a := range m.retries.take() {
		if ctx.Err() != nil {
			m.retries.add(a) // not tried: the next Flush will
			continue
		}
		if m.alreadyRecorded(ctx, a.e) {
			continue
		}
		err := m.record(ctx, a.e, a.in)
		if err == nil {
			continue
		}
		if a.tries++; a.tries >= auditRetryTries || !m.retries.add(a) {
			m.log.Error("audit event lost after retries", "type", a.e.Type, "session", a.e.SessionID, "err", err)
		}
	}
}

// alreadyRecorded reports whether an event whose write failed is in the
// store after all: a write can fail after its commit (the connection lost
// before the answer), and writing it again would record it twice. It looks
// for the event itself: the same type, user, session and actor at the same
// instant (the stores keep microseconds). A lookup that fails says no: the
// write is tried again, as before.
func (m *Manager) alreadyRecorded(ctx context.Context, e *Event) bool {
	at := e.At.Truncate(time.Microsecond)
	found, _, err := m.store.ListEvents(ctx, EventFilter{Types: []string{e.Type}, UserID: e.UserID, SessionID: e.SessionID,
		ActorID: e.ActorID, From: at.Add(-time.Microsecond), To: at.Add(2 * time.Microsecond), Limit: 10})
	if err != nil {
		return false
	}
	for _, f := range found {
		if f.UserID == e.UserID && f.SessionID == e.SessionID && f.ActorType == e.ActorType && f.ActorID == e.ActorID {
			return true
		}
	}
	return false
}

// dropAudits logs the audit events still awaiting a retry as lost (at
// Close, after the last Flush).
func (m *Manager) dropAudits() {
	for _, a := range m.retries.take() {
		m.log.Error("audit event lost: not recorded before the Manager closed", "type", a.e.Type, "session", a.e.SessionID)
	}
}

// Record appends an admin or system event to the audit log.
func (m *Manager) Record(ctx context.Context, e *Event) error { return m.record(ctx, e, nil) }
