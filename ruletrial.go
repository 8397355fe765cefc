package sessionmanager

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
)

// AlertEventTypes are the event types alert rules are evaluated on.
var AlertEventTypes = []string{EventLoginSucceeded, EventLoginBlocked, EventRefreshReuse, EventSessionReported, EventSessionAnomaly}

// IsAlertEvent reports whether alert rules are evaluated on events of type t.
func IsAlertEvent(t string) bool { return slices.Contains(AlertEventTypes, t) }

// Outcomes of a rule's condition in a RuleTrial.
const (
	ConditionNone   = "none"    // the rule has no condition
	ConditionTrue   = "true"    // it returned a truthy value
	ConditionFalse  = "false"   // it returned a falsy value
	ConditionError  = "error"   // it threw or hit a limit (treated as false)
	ConditionNotRun = "not run" // the triggers did not match, or conditions cannot run
)

// RuleTrial is what an alert rule would do with a recorded event: whether
// it fires and why. Nothing is delivered.
type RuleTrial struct {
	RuleID   string `json:"ruleId"`
	RuleName string `json:"ruleName"`
	// Event is the event tried (nil when the caller gave only an input).
	Event *Event `json:"event,omitempty"`
	// Fires: the rule as it stands would raise an alert on this event.
	Fires bool `json:"fires"`
	// MatchedTriggers are the rule's triggers the event matches.
	MatchedTriggers []string `json:"matchedTriggers"`
	// Condition is the outcome of the rule's condition (Condition* constants).
	Condition string `json:"condition"`
	// Reason says why, in one sentence.
	Reason string `json:"reason"`
}

// RuleTrier tries a rule on an alert input without delivering anything,
// and says what a rule can name (package alert's Admin).
type RuleTrier interface {
	TryRule(ctx context.Context, id string, in AlertInput) (RuleTrial, error)
	RuleGuide() AlertRuleGuide
}

// AlertRuleGuide is what a rule editor offers: the triggers and channel
// types a rule can name, and an example of the event object a condition
// sees, built by the code that builds the real one (so it stays true).
type AlertRuleGuide struct {
	Triggers     []string        `json:"triggers"`
	ChannelTypes []string        `json:"channelTypes"`
	EventExample json.RawMessage `json:"eventExample"`
}

// AlertRuleGuide returns the rule vocabulary; empty when no rules are
// configured.
func (m *Manager) AlertRuleGuide() AlertRuleGuide {
	if trier, ok := m.cfg.AlertRules.(RuleTrier); ok {
		return trier.RuleGuide()
	}
	return AlertRuleGuide{}
}

// RecentAlertEvents lists the newest events alert rules run on (login
// succeeded or blocked, refresh-token reuse), for an admin to try a rule on.
func (m *Manager) RecentAlertEvents(ctx context.Context, limit int) ([]*Event, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	events, _, err := m.store.ListEvents(ctx, EventFilter{Types: AlertEventTypes, Desc: true, Limit: limit})
	return events, err
}

// TryAlertRule says whether alert rule ruleID would fire on the recorded
// event eventSeq, and why, from what the event and its session recorded;
// nothing is delivered. ENOTFOUND for an unknown rule or event, EINVALID
// for an event rules do not run on.
func (m *Manager) TryAlertRule(ctx context.Context, ruleID string, eventSeq int64) (RuleTrial, error) {
	trier, ok := m.cfg.AlertRules.(RuleTrier)
	if !ok {
		return RuleTrial{}, Errorf(ENOTFOUND, "alert rules are not configured")
	}
	if eventSeq <= 0 {
		return RuleTrial{}, InvalidFields(map[string]string{"eventSeq": "must be an event's seq (a positive whole number)"})
	}
	events, _, err := m.store.ListEvents(ctx, EventFilter{AfterSeq: eventSeq - 1, Limit: 1})
	if err != nil {
		return RuleTrial{}, err
	}
	if len(events) == 0 || events[0].Seq != eventSeq {
		return RuleTrial{}, &Error{Code: ENOTFOUND, Message: "event " + strconv.FormatInt(eventSeq, 10) + " not found", Fields: map[string]string{"eventSeq": "no such event"}}
	}
	e := events[0]
	if !IsAlertEvent(e.Type) {
		return RuleTrial{}, InvalidFields(map[string]string{"eventSeq": "is a " + e.Type + " event: rules run on " + joinWords(AlertEventTypes)})
	}
	t, err := trier.TryRule(ctx, ruleID, m.alertInputOf(ctx, e))
	if err != nil {
		return RuleTrial{}, err
	}
	t.Event = e
	return t, nil
}

// alertInputOf rebuilds what alert rules saw of a recorded event: the
// score, reasons, threat and device the event recorded, its location
// (unless erased), its session, its user and the user's session before it.
func (m *Manager) alertInputOf(ctx context.Context, e *Event) AlertInput {
	in := AlertInput{Event: e}
	var data struct {
		Score   *int         `json:"score"`
		Reasons []RiskReason `json:"reasons"`
		Action  Action       `json:"action"`
		Reason  string       `json:"reason"`
		Threat  Threat       `json:"threat"`
		Device  Device       `json:"device"`
	}
	_ = json.Unmarshal(e.Data, &data)
	var personal struct {
		Location Location `json:"location"`
	}
	_ = json.Unmarshal(e.Personal, &personal)
	in.Location, in.Threat, in.Device = personal.Location, data.Threat, data.Device
	if data.Score != nil {
		in.Assessment = &Assessment{Score: *data.Score, Reasons: data.Reasons, Action: data.Action, BlockReason: data.Reason}
		if data.Reason != "" {
			in.Assessment.Triggered = map[string]Action{data.Reason: ActionBlock}
		}
	}
	if e.UserID != "" {
		in.User, _ = m.store.UserByID(ctx, e.UserID)
	}
	if e.SessionID != "" {
		if s, err := m.store.SessionByID(ctx, e.SessionID); err == nil {
			in.Session = s
			if e.Type == EventRefreshReuse {
				in.Location, in.Threat, in.Device = s.Location, s.Threat, s.Device
			}
		}
	}
	if e.Type == EventSessionAnomaly {
		in.Anomaly = anomalyOf(e)
		after := &in.Anomaly.After
		in.Location = Location{CountryCode: after.CountryCode, City: after.City, ASN: after.ASN, ISP: after.ISP,
			Latitude: after.Latitude, Longitude: after.Longitude, HasCoordinates: after.Latitude != 0 || after.Longitude != 0}
		in.Threat, in.Device = after.Threat, after.Device
		return in
	}
	if e.UserID != "" && e.Type != EventRefreshReuse {
		page, err := m.store.ListSessions(ctx, SessionFilter{UserID: e.UserID, To: e.At, Sort: SortCreated, Desc: true, Limit: 2})
		if err == nil {
			for _, s := range page.Sessions {
				if s.ID != e.SessionID {
					in.Previous = s
					break
				}
			}
		}
	}
	return in
}

// anomalyOf reads a recorded session.anomaly back: its data, with the
// addresses from its personal part (empty once erased).
func anomalyOf(e *Event) *SessionAnomaly {
	var a SessionAnomaly
	_ = json.Unmarshal(e.Data, &a)
	var personal struct {
		BeforeIP string `json:"beforeIp"`
		AfterIP  string `json:"afterIp"`
	}
	_ = json.Unmarshal(e.Personal, &personal)
	a.Before.IP, a.After.IP = personal.BeforeIP, personal.AfterIP
	return &a
}

// joinWords is "a, b and c".
func joinWords(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	out := ""
	for i, w := range words[:len(words)-1] {
		if i > 0 {
			out += ", "
		}
		out += w
	}
	return out + " and " + words[len(words)-1]
}
