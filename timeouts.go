package sessionmanager

import (
	"context"
	"fmt"
	"time"
)

// Where a session timeout in force comes from (SessionTimeout.Source).
const (
	SourceSettings    = "settings"
	SourceEnvironment = "environment"
)

// SessionTimeout is one session timeout in force.
type SessionTimeout struct {
	// Value is the timeout; 0 for an idle end that is off.
	Value Duration `json:"value"`
	// Source is "settings" (a stored value overrides the environment) or
	// "environment" (the variable Env, or its default).
	Source string `json:"source"`
	// Env names the environment variable the setting overrides.
	Env string `json:"env"`
	// Environment is the environment's value, in force when the setting
	// is null.
	Environment Duration `json:"environment"`
}

// SessionTimeouts are the session timeouts in force.
type SessionTimeouts struct {
	// InactivityTimeout marks a session inactive (still valid) this long
	// after its last activity.
	InactivityTimeout SessionTimeout `json:"inactivityTimeout"`
	// IdleTimeout ends a session (reason idle) this long after its last
	// activity; 0 is off.
	IdleTimeout SessionTimeout `json:"idleTimeout"`
	// MaxSessionAge is the absolute lifetime of a session, fixed when it
	// starts: a change applies to sessions started after it.
	MaxSessionAge SessionTimeout `json:"maxSessionAge"`
	// Retention is how long an ended session is kept before the nightly purge.
	Retention SessionTimeout `json:"retention"`
}

// SessionTimeouts returns the session timeouts in force: each stored
// setting overrides the environment (Config).
func (m *Manager) SessionTimeouts(ctx context.Context) (SessionTimeouts, error) {
	s, err := m.Settings(ctx)
	if err != nil {
		return SessionTimeouts{}, err
	}
	return m.timeoutsOf(s), nil
}

func (m *Manager) timeoutsOf(s *Settings) SessionTimeouts {
	one := func(stored *Duration, env string, cfg time.Duration) SessionTimeout {
		t := SessionTimeout{Value: Duration(cfg), Source: SourceEnvironment, Env: env, Environment: Duration(cfg)}
		if stored != nil {
			t.Value, t.Source = *stored, SourceSettings
		}
		return t
	}
	return SessionTimeouts{
		InactivityTimeout: one(s.InactivityTimeout, "SM_INACTIVITY_TIMEOUT", m.cfg.InactivityTimeout),
		IdleTimeout:       one(s.IdleTimeout, "SM_IDLE_TIMEOUT", m.cfg.IdleTimeout),
		MaxSessionAge:     one(s.MaxSessionAge, "SM_MAX_SESSION_AGE", m.cfg.MaxSessionAge),
		Retention:         one(s.Retention, "SM_RETENTION", m.cfg.Retention),
	}
}

// timeouts returns the timeouts in force for the background work and
// logins; when the settings cannot be read it falls back on the
// environment, so a store hiccup never stops the sweep.
func (m *Manager) timeouts(ctx context.Context) SessionTimeouts {
	s, err := m.Settings(ctx)
	if err != nil {
		s = DefaultSettings()
	}
	return m.timeoutsOf(s)
}

// checkTimeouts validates the timeouts next would put in force, against
// each other and against the environment they combine with; it names each
// bad setting.
func (m *Manager) checkTimeouts(next *Settings) map[string]string {
	var errs fieldErrors
	for _, f := range [...]struct {
		name string
		v    *Duration
	}{{"inactivityTimeout", next.InactivityTimeout}, {"idleTimeout", next.IdleTimeout}, {"maxSessionAge", next.MaxSessionAge}, {"retention", next.Retention}} {
		if f.v != nil && *f.v < 0 {
			errs.add(f.name, "must not be negative")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	t := m.timeoutsOf(next)
	seen := m.cfg.LastSeenInterval
	inact, idle, age, keep := time.Duration(t.InactivityTimeout.Value), time.Duration(t.IdleTimeout.Value), time.Duration(t.MaxSessionAge.Value), time.Duration(t.Retention.Value)
	// Name the setting that was set; when both sides are set, the first.
	blame := func(a, b string, aSet, bSet bool) string {
		if aSet || !bSet {
			return a
		}
		return b
	}
	// Each rule is checked where a stored value takes part in it: the
	// environment alone was checked at start.
	if next.InactivityTimeout != nil && inact < seen {
		errs.add("inactivityTimeout", fmt.Sprintf("must be at least the last-seen interval (SM_LAST_SEEN_INTERVAL, %s): activity is only written once per interval", seen))
	}
	if next.IdleTimeout != nil && idle > 0 && idle < seen {
		errs.add("idleTimeout", fmt.Sprintf("must be 0s (off) or at least the last-seen interval (SM_LAST_SEEN_INTERVAL, %s)", seen))
	}
	if (next.IdleTimeout != nil || next.MaxSessionAge != nil) && idle > age {
		errs.add(blame("idleTimeout", "maxSessionAge", next.IdleTimeout != nil, next.MaxSessionAge != nil), fmt.Sprintf("the idle end (%s) must not be longer than the absolute lifetime (%s)", idle, age))
	}
	if next.MaxSessionAge != nil && age < m.cfg.AccessTokenTTL {
		errs.add("maxSessionAge", fmt.Sprintf("must be at least the access token lifetime (SM_ACCESS_TOKEN_TTL, %s)", m.cfg.AccessTokenTTL))
	}
	if next.Retention != nil && keep < time.Hour {
		errs.add("retention", "must be at least 1h")
	}
	return errs
}
