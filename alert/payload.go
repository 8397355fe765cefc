package alert

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Alert kinds.
const (
	KindRule          = "rule"
	KindUserNewSignIn = "user_new_signin"
	KindTest          = "test"
)

// Severities, from the strongest trigger that fired.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Alert is the payload of every delivery: the JSON body of a webhook and
// the data of email, Slack and Discord messages. docs/ALERTS.md documents it.
type Alert struct {
	// ID identifies this alert (one rule firing on one event), random.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Type is the event type: login.succeeded, login.blocked,
	// session.refresh_reuse, session.reported.
	Type       string     `json:"type"`
	OccurredAt time.Time  `json:"occurredAt"`
	Rule       *AlertRule `json:"rule,omitempty"`
	// Triggers are the rule's triggers that matched ("condition" when the
	// custom condition alone fired it).
	Triggers []string        `json:"triggers,omitempty"`
	Title    string          `json:"title"`
	Summary  string          `json:"summary"`
	Severity string          `json:"severity"`
	User     AlertUser       `json:"user"`
	Session  AlertSession    `json:"session"`
	Location sm.Location     `json:"location"`
	Threat   sm.Threat       `json:"threat"`
	Score    int             `json:"score"`
	Reasons  []sm.RiskReason `json:"reasons"`
	Previous *AlertSession   `json:"previous,omitempty"`
	// Anomaly is the move of a session.anomaly: signals, action, before
	// and after.
	Anomaly *sm.SessionAnomaly `json:"anomaly,omitempty"`
}

// AlertRule names the rule that fired.
type AlertRule struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AlertUser is the user the alert is about.
type AlertUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

// AlertSession is the session (or blocked attempt) the alert is about.
type AlertSession struct {
	ID         string       `json:"id,omitempty"`
	IP         string       `json:"ip,omitempty"`
	AuthMethod string       `json:"authMethod,omitempty"`
	Device     sm.Device    `json:"device"`
	At         time.Time    `json:"at,omitzero"`
	Location   *sm.Location `json:"location,omitempty"`
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// severityOf ranks the matched triggers; a blocked login or a theft signal
// is critical.
func severityOf(eventType string, triggers []string) string {
	sev := SeverityInfo
	if eventType == sm.EventLoginBlocked || eventType == sm.EventRefreshReuse || eventType == sm.EventSessionReported {
		return SeverityCritical
	}
	if eventType == sm.EventSessionAnomaly {
		sev = SeverityWarning
	}
	for _, t := range triggers {
		switch t {
		case TriggerTor, TriggerThreat, TriggerImpossibleTravel, TriggerRefreshReuse, TriggerLoginBlocked, TriggerUserReported:
			return SeverityCritical
		case TriggerVPN, TriggerProxy, TriggerDatacenter, TriggerNewCountry, TriggerLowScore, TriggerLoginChallenged, TriggerChallengeFailed:
			sev = SeverityWarning
		}
	}
	return sev
}

// newAlert builds the alert of an event (without rule, title and severity).
func newAlert(kind string, in *sm.AlertInput) *Alert {
	a := &Alert{ID: randomID(), Kind: kind, Location: in.Location, Threat: in.Threat, Score: 100, Reasons: []sm.RiskReason{}}
	if in.Event != nil {
		a.Type = in.Event.Type
		a.OccurredAt = in.Event.At.UTC()
	}
	if in.User != nil {
		a.User = AlertUser{ID: in.User.ID, Email: in.User.Email, Username: in.User.Username}
	}
	a.Session = alertSession(in.Session)
	if in.Device != (sm.Device{}) {
		a.Session.Device = in.Device
	}
	if a.Session.IP == "" && in.Event != nil {
		a.Session.IP = in.Event.IP
	}
	if in.Assessment != nil {
		a.Score = in.Assessment.Score
		if in.Assessment.Reasons != nil {
			a.Reasons = in.Assessment.Reasons
		}
	}
	if a.Anomaly = in.Anomaly; a.Anomaly != nil && a.Anomaly.After.IP != "" {
		a.Session.IP = a.Anomaly.After.IP // the address the session moved to
	}
	if in.Previous != nil {
		p := alertSession(in.Previous)
		p.At = in.Previous.CreatedAt.UTC()
		loc := in.Previous.Location
		p.Location = &loc
		a.Previous = &p
	}
	return a
}

func alertSession(s *sm.Session) AlertSession {
	if s == nil {
		return AlertSession{}
	}
	out := AlertSession{ID: s.ID, AuthMethod: string(s.AuthMethod), Device: s.Device}
	if s.IP.IsValid() {
		out.IP = s.IP.String()
	}
	return out
}

// titles per event type.
var eventTitles = map[string]string{
	sm.EventLoginSucceeded:  "Suspicious sign-in",
	sm.EventLoginBlocked:    "Sign-in blocked",
	sm.EventRefreshReuse:    "Refresh token reuse: session ended",
	sm.EventSessionReported: "\"This wasn't me\": user reported a sign-in",
	sm.EventSessionAnomaly:  "Session used from another place or device",
}

// describe sets Title and Summary from the alert's facts.
func (a *Alert) describe() {
	who := a.User.Email
	if who == "" {
		who = a.User.Username
	}
	if who == "" {
		who = "user " + a.User.ID
	}
	where := placeOf(a.Location)
	switch a.Kind {
	case KindUserNewSignIn:
		a.Title = "New sign-in to your account"
	case KindTest:
		a.Title = "Test alert"
	default:
		a.Title = eventTitles[a.Type]
		if a.Title == "" {
			a.Title = "Security alert"
		}
		if a.Rule != nil && a.Rule.Name != "" {
			a.Title += ": " + a.Rule.Name
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s from %s", who, where)
	if a.Session.IP != "" {
		fmt.Fprintf(&b, " (%s)", a.Session.IP)
	}
	if d := a.Session.Device; d.Browser != "" || d.OS != "" {
		fmt.Fprintf(&b, " on %s", strings.TrimSpace(d.Browser+" / "+d.OS))
	}
	fmt.Fprintf(&b, ", score %d", a.Score)
	if len(a.Triggers) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(a.Triggers, ", "))
	}
	if an := a.Anomaly; an != nil {
		codes := make([]string, len(an.Signals))
		for i, r := range an.Signals {
			codes[i] = r.Code
		}
		fmt.Fprintf(&b, "; signals %s, action %s", strings.Join(codes, ", "), an.Action)
	}
	a.Summary = b.String()
}

// placeOf names a location for people: "Berlin, Germany".
func placeOf(l sm.Location) string {
	parts := make([]string, 0, 2)
	if l.City != "" {
		parts = append(parts, l.City)
	}
	if l.CountryName != "" {
		parts = append(parts, l.CountryName)
	} else if l.CountryCode != "" {
		parts = append(parts, l.CountryCode)
	}
	if len(parts) == 0 {
		return "an unknown location"
	}
	return strings.Join(parts, ", ")
}
