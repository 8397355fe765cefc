package sessionmanager

import (
	"context"
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
	if err := m.store.AppendEvent(ctx, e, deliveries); err != nil {
		return err
	}
	if len(deliveries) > 0 && m.cfg.KickOutbox != nil {
		m.cfg.KickOutbox()
	}
	return nil
}

// audit records an event for an action already done (the action must not
// be undone). A failed write is retried in the background a few times
// (a store hiccup must not lose the audit trail, nor the revocation feed
// that reads it), then logged.
func (m *Manager) audit(ctx context.Context, e *Event, in *AlertInput) {
	err := m.record(ctx, e, in)
	if err == nil {
		return
	}
	m.log.Warn("audit event not recorded; retrying", "type", e.Type, "err", err)
	go func() {
		ctx := context.WithoutCancel(ctx)
		for _, wait := range []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second} {
			time.Sleep(wait)
			if err = m.record(ctx, e, in); err == nil {
				return
			}
		}
		m.log.Error("audit event lost after retries", "type", e.Type, "session", e.SessionID, "err", err)
	}()
}

// Record appends an admin or system event to the audit log.
func (m *Manager) Record(ctx context.Context, e *Event) error { return m.record(ctx, e, nil) }
