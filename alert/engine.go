package alert

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// RuleUserNewSignIn is the RuleID of the user's own "new sign-in" email.
const RuleUserNewSignIn = "user_new_signin"

// EngineConfig wires an Engine.
type EngineConfig struct {
	Rules *Rules
	// NewSignInEmail sends the user a "new sign-in to your account" email on
	// every successful login (SetNewSignInEmail changes it at runtime).
	NewSignInEmail bool
	// Conditions, when set, says whether custom JavaScript conditions may run
	// (the licence gate sessionmanager.FeatureCondition). While it says no,
	// a rule with a condition does not fire: its condition cannot be checked.
	Conditions func() bool
	Logger     *slog.Logger
}

// Engine turns login events into outbox deliveries. It implements
// sessionmanager.Alerter and does no I/O: rules are a compiled snapshot.
// It never runs a custom condition: a rule with one gets deliveries marked
// "condition pending", written in the login's transaction like the others,
// and the Worker evaluates the condition in an evaluator process before it
// sends or drops them, so no condition can delay or endanger a login.
type Engine struct {
	rules     *Rules
	newSignIn atomic.Bool
	conds     func() bool
	log       *slog.Logger
}

var _ sm.Alerter = (*Engine)(nil)

// NewEngine returns an Engine over the rules.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{rules: cfg.Rules, conds: cfg.Conditions, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.newSignIn.Store(cfg.NewSignInEmail)
	return e
}

// SetNewSignInEmail turns the user-facing new sign-in email on or off
// (from Settings.NewSignInEmail when the settings change).
func (e *Engine) SetNewSignInEmail(on bool) { e.newSignIn.Store(on) }

// Deliveries returns one delivery per (fired rule, channel), plus the
// user's new sign-in email when enabled. The deliveries of a rule with a
// condition carry the condition's event and wait for the Worker to
// evaluate it.
func (e *Engine) Deliveries(ctx context.Context, in sm.AlertInput) ([]*sm.Delivery, error) {
	if in.Event == nil || !isLoginEvent(in.Event.Type) {
		return nil, nil
	}
	var out []*sm.Delivery
	var base *Alert           // built once, copied per fired rule
	var event json.RawMessage // the condition's event, built once
	if e.rules != nil {
		for _, c := range e.rules.enabled() {
			matched, ok := e.fires(c, &in)
			if !ok {
				continue
			}
			if base == nil {
				base = newAlert(KindRule, &in)
			}
			a := *base
			a.ID = randomID()
			a.Rule = &AlertRule{ID: c.rule.ID, Name: c.rule.Name}
			a.Triggers = matched
			a.Severity = severityOf(a.Type, matched)
			a.describe()
			payload, err := json.Marshal(&a)
			if err != nil {
				return nil, err
			}
			if c.prog == nil {
				for i, t := range c.targets {
					out = append(out, newDelivery(&in, c.rule.ID, c.rule.Channels[i].Type, t, payload))
				}
				continue
			}
			if event == nil {
				if event, err = json.Marshal(conditionEvent(&in)); err != nil {
					return nil, err
				}
			}
			pending := &pendingCondition{RuleID: c.rule.ID, AlertID: a.ID, Event: event}
			for _, ch := range c.rule.Channels {
				t, err := json.Marshal(pendingTarget{Channel: ch.atRest(), PendingCondition: pending})
				if err != nil {
					return nil, err
				}
				out = append(out, newDelivery(&in, c.rule.ID, ch.Type, t, payload))
			}
		}
	}
	if e.newSignIn.Load() && in.Event.Type == sm.EventLoginSucceeded && in.User != nil && in.User.Email != "" {
		d, err := userNewSignIn(&in)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// fires reports whether the rule fires, or (with a condition) may fire,
// and which triggers matched.
func (e *Engine) fires(c *compiledRule, in *sm.AlertInput) ([]string, bool) {
	matched := matchedTriggers(&c.rule, in)
	if len(c.rule.Triggers) > 0 && len(matched) == 0 {
		return nil, false
	}
	if c.prog == nil {
		return matched, true
	}
	if e.conds != nil && !e.conds() {
		return nil, false
	}
	if len(matched) == 0 {
		matched = []string{"condition"}
	}
	return matched, true
}

func newDelivery(in *sm.AlertInput, ruleID, channel string, target, payload json.RawMessage) *sm.Delivery {
	return &sm.Delivery{
		RuleID:         ruleID,
		Channel:        channel,
		Target:         target,
		Payload:        payload,
		IdempotencyKey: randomID(),
		Status:         sm.DeliveryPending,
		CreatedAt:      in.Event.At,
	}
}

// userNewSignIn is the email to the user about their own new sign-in.
func userNewSignIn(in *sm.AlertInput) (*sm.Delivery, error) {
	a := newAlert(KindUserNewSignIn, in)
	a.Severity = SeverityInfo
	a.describe()
	payload, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	target, err := Channel{AlertChannel: sm.AlertChannel{Type: ChannelEmail, To: []string{in.User.Email}}}.targetJSON()
	if err != nil {
		return nil, err
	}
	return newDelivery(in, RuleUserNewSignIn, ChannelEmail, target, payload), nil
}
