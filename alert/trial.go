package alert

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

var _ sm.RuleTrier = (*Admin)(nil)

// TryRule says whether rule id would fire on the input and why, as the
// Engine and the Worker would decide it: its triggers, then its condition,
// run in the condition evaluator (a process) with the event object the
// condition would see. Nothing is delivered, and an overrun here does not
// count towards disabling the rule.
func (a *Admin) TryRule(ctx context.Context, id string, in sm.AlertInput) (sm.RuleTrial, error) {
	rule, ok := a.find(id)
	if !ok {
		return sm.RuleTrial{}, sm.Errorf(sm.ENOTFOUND, "alert rule not found")
	}
	t := sm.RuleTrial{RuleID: rule.ID, RuleName: rule.Name, MatchedTriggers: matchedTriggers(&rule, &in), Condition: sm.ConditionNone}
	if t.MatchedTriggers == nil {
		t.MatchedTriggers = []string{}
	}
	if rule.Condition != "" {
		t.Condition = sm.ConditionNotRun
	}
	matched := "its triggers " + strings.Join(t.MatchedTriggers, ", ") + " match"
	if len(t.MatchedTriggers) == 1 {
		matched = "its trigger " + t.MatchedTriggers[0] + " matches"
	}
	switch {
	case in.Event == nil || !isLoginEvent(in.Event.Type):
		t.Reason = "rules only run on " + strings.Join(sm.AlertEventTypes, ", ") + " events"
		return t, nil
	case len(rule.Triggers) > 0 && len(t.MatchedTriggers) == 0:
		t.Reason = "none of its triggers (" + strings.Join(rule.Triggers, ", ") + ") matches this event"
		return t, nil
	case rule.Condition == "":
		t.Fires, t.Reason = true, matched
	default:
		if err := a.tryCondition(ctx, &rule, &in, &t); err != nil {
			return sm.RuleTrial{}, err
		}
		if t.Condition == sm.ConditionTrue {
			t.Fires, t.Reason = true, "its condition returned true"
			if len(rule.Triggers) > 0 {
				t.Reason = matched + " and " + t.Reason
			}
		}
	}
	if t.Fires && !rule.Enabled {
		t.Fires, t.Reason = false, "the rule is disabled; enabled, it would fire: "+t.Reason
	}
	return t, nil
}

// tryCondition runs the rule's condition on the input's event object.
func (a *Admin) tryCondition(ctx context.Context, rule *storedRule, in *sm.AlertInput, t *sm.RuleTrial) error {
	var cfg ConditionConfig
	if a.worker != nil {
		cfg = a.worker.conds.cfg
	}
	switch {
	case cfg.Allowed != nil && !cfg.Allowed():
		t.Reason = "custom conditions are not included in this licence: the rule does not fire while it has one"
		return nil
	case cfg.Evaluator == nil:
		t.Reason = "no condition evaluator is configured: the rule does not fire while it has a condition"
		return nil
	}
	event, err := json.Marshal(conditionEvent(in))
	if err != nil {
		return err
	}
	fired, err := cfg.Evaluator.Evaluate(ctx, rule.Condition, event)
	var overrun *OverrunError
	var failed *ConditionError
	switch {
	case errors.As(err, &overrun):
		t.Condition, t.Reason = sm.ConditionError, overrun.Error()+" (treated as false)"
	case errors.As(err, &failed):
		t.Condition, t.Reason = sm.ConditionError, failed.Error()+" (treated as false)"
	case err != nil:
		return err
	case fired:
		t.Condition = sm.ConditionTrue
	default:
		t.Condition, t.Reason = sm.ConditionFalse, "its condition returned false"
	}
	return nil
}

// RuleGuide lists the triggers and channel types and shows the event
// object a condition sees, built by conditionEvent from an example login.
func (a *Admin) RuleGuide() sm.AlertRuleGuide {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := sm.AlertInput{
		Event: &sm.Event{Type: sm.EventLoginSucceeded, At: at, UserID: "u_123", SessionID: "s_456", IP: "203.0.113.9"},
		User:  &sm.User{ID: "u_123", Email: "jane@example.com", Username: "jane"},
		Session: &sm.Session{ID: "s_456", UserID: "u_123", AuthMethod: sm.AuthPassword, IP: netip.MustParseAddr("203.0.113.9"),
			Device: sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"}},
		Location:   sm.Location{CountryCode: "DE", CountryName: "Germany", City: "Berlin", Region: "Berlin", Latitude: 52.52, Longitude: 13.4, ASN: 64500, ISP: "Example ISP"},
		Threat:     sm.Threat{VPN: true},
		Device:     sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"},
		Assessment: &sm.Assessment{Score: 55, Reasons: []sm.RiskReason{{Code: sm.ReasonVPN, Weight: 15, Detail: "VPN provider"}, {Code: sm.ReasonNewCountry, Weight: 30, Detail: "first sign-in from Germany"}}},
		Previous: &sm.Session{ID: "s_123", IP: netip.MustParseAddr("198.51.100.1"), CreatedAt: at.Add(-time.Hour),
			Device: sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"}, Location: sm.Location{CountryCode: "FR", CountryName: "France", City: "Paris"}},
	}
	example, _ := json.MarshalIndent(conditionEvent(&in), "", "  ")
	return sm.AlertRuleGuide{
		Triggers:     slices.Clone(AllTriggers),
		ChannelTypes: []string{ChannelEmail, ChannelSlack, ChannelDiscord, ChannelWebhook},
		EventExample: example,
	}
}
