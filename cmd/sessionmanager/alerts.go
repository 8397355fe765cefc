package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/alert"
)

// alertParts are the alert rules, the engine that turns events into
// outbox deliveries, and the worker that sends them.
type alertParts struct {
	rules  *alert.Rules
	engine *alert.Engine
	worker *alert.Worker
	// conditions evaluates custom conditions in child processes.
	conditions *alert.ProcessEvaluator
	// announce tells the other instances to reload the rules (set once the
	// manager exists).
	announce func(context.Context)
}

// conditionEvalCmd is the hidden subcommand an evaluator process runs:
// the same binary, re-executed, reading conditions on stdin.
const conditionEvalCmd = "condition-eval"

// conditionCommand is how the server starts an evaluator process: its own
// executable with the hidden subcommand. Tests replace it (their binary
// is the test binary).
var conditionCommand = func() (string, []string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("custom alert conditions need the server's own executable: %w", err)
	}
	return exe, []string{conditionEvalCmd}, nil
}

// run runs the outbox worker until ctx ends, then stops the evaluator
// processes.
func (p *alertParts) run(ctx context.Context) {
	_ = p.worker.Run(ctx)
	_ = p.conditions.Close()
}

func buildAlerts(ctx context.Context, c *config, st sm.FullStore, sec sm.Secrets, allows func(string) bool, log *slog.Logger) (*alertParts, error) {
	// Development may post to a receiver on this machine; production never
	// posts to private or loopback addresses.
	targets := alert.TargetPolicy{AllowHTTPLoopback: c.Env != "production"}
	if c.AllowPrivateWebhooks {
		targets.AllowPrivateTargets = true
	}
	now := sm.SystemClock{}.Now
	rules, err := alert.NewRules(ctx, alert.RulesConfig{Store: st, Sealer: sec, Targets: targets, Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	settings := sm.DefaultSettings()
	if raw, err := st.GetSetting(ctx, sm.SettingsKey); err == nil {
		_ = json.Unmarshal(raw, settings)
	}
	conditionsAllowed := func() bool { return allows(sm.FeatureCondition) }
	engine := alert.NewEngine(alert.EngineConfig{Rules: rules, NewSignInEmail: settings.NewSignInEmail, Logger: log,
		Conditions: conditionsAllowed})
	exe, args, err := conditionCommand()
	if err != nil {
		return nil, err
	}
	// The evaluator gets no environment: it needs none, and the server's
	// keys and database URLs stay out of a process that runs admin code.
	parts := &alertParts{rules: rules, engine: engine}
	parts.conditions = alert.NewProcessEvaluator(alert.ProcessConfig{Command: exe, Args: args, Env: []string{},
		Limits: c.ConditionLimits, Logger: log})
	http := alert.HTTPConfig{Targets: targets, UserAgent: "MagicSessionManager/" + version, Sealer: sec}
	senders := map[string]alert.Sender{
		alert.ChannelSlack:   alert.NewSlackSender(http),
		alert.ChannelDiscord: alert.NewDiscordSender(http),
		alert.ChannelWebhook: alert.NewWebhookSender(http, sec, now),
	}
	if c.SMTPURL != "" {
		email, err := alert.NewEmailSender(alert.EmailConfig{SMTPURL: c.SMTPURL, From: c.AlertFrom, Templates: alert.NewTemplates(st)})
		if err != nil {
			return nil, &configError{"SMTP_URL is invalid: " + err.Error()}
		}
		senders[alert.ChannelEmail] = email
	}
	parts.worker = alert.NewWorker(alert.WorkerConfig{Store: st, Dispatcher: alert.NewDispatcher(senders), Now: now, Sealer: sec, Targets: targets, Logger: log,
		Conditions: &alert.ConditionConfig{Rules: rules, Evaluator: parts.conditions, Allowed: conditionsAllowed,
			OnRuleDisabled: func(ctx context.Context, _ string) {
				if parts.announce != nil {
					parts.announce(ctx)
				}
			}}})
	return parts, nil
}

// alertAdmin adapts the alert package to the admin API and dashboard.
type alertAdmin struct {
	p *alertParts
	// announce tells the other instances to reload the rules.
	announce func(context.Context)
	// require is the licence gate (Manager.RequireFeature): a rule the
	// edition would ignore is refused with feature_locked, never stored.
	require func(feature, what string) error
}

// gate refuses a rule the licence would ignore: any enabled rule without
// the alerts feature, a new or changed JavaScript condition without custom
// conditions. Disabling a rule, and a condition already stored (a licence
// that expired), stay accepted.
func (a alertAdmin) gate(r alert.Rule, old *alert.Rule) error {
	if a.require == nil {
		return nil
	}
	if r.Enabled {
		if err := a.require(sm.FeatureAlerts, "an enabled alert rule"); err != nil {
			return err
		}
	}
	if r.Condition != "" && (old == nil || old.Condition != r.Condition) {
		return a.require(sm.FeatureCondition, "a JavaScript condition")
	}
	return nil
}

// enabledTriggers lists the triggers of the enabled rules (for the
// configuration warnings: a new_country rule with no country data...).
func (p *alertParts) enabledTriggers(ctx context.Context) ([]string, error) {
	rules, err := p.rules.List(ctx)
	var out []string
	for _, r := range rules {
		if r.Enabled {
			out = append(out, r.Triggers...)
		}
	}
	return out, err
}

func (a alertAdmin) ListRules(ctx context.Context) (any, error) { return a.p.rules.List(ctx) }

// decodeRule reads a rule from the API. A rule sent without "enabled" is
// enabled: the field only has to be sent to save a rule switched off.
func decodeRule(body []byte) (alert.Rule, error) {
	r := alert.Rule{Enabled: true}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, &sm.Error{Code: sm.EINVALID, Message: "invalid rule", Fields: map[string]string{"body": err.Error()}}
	}
	return r, nil
}

func (a alertAdmin) CreateRule(ctx context.Context, body []byte) (any, error) {
	r, err := decodeRule(body)
	if err != nil {
		return nil, err
	}
	if err := a.gate(r, nil); err != nil {
		return nil, err
	}
	rule, err := a.p.rules.Create(ctx, r)
	if err == nil {
		a.announce(ctx)
	}
	return rule, err
}

func (a alertAdmin) UpdateRule(ctx context.Context, id string, body []byte) (any, error) {
	r, err := decodeRule(body)
	if err != nil {
		return nil, err
	}
	old, err := a.p.rules.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.gate(r, &old); err != nil {
		return nil, err
	}
	rule, err := a.p.rules.Update(ctx, id, r)
	if err == nil {
		a.announce(ctx)
	}
	return rule, err
}

func (a alertAdmin) DeleteRule(ctx context.Context, id string) error {
	err := a.p.rules.Delete(ctx, id)
	if err == nil {
		a.announce(ctx)
	}
	return err
}

func (a alertAdmin) TestChannel(ctx context.Context, ch []byte) error {
	return a.p.worker.Test(ctx, ch)
}

func (a alertAdmin) ListDeliveries(ctx context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	return a.p.worker.ListDeliveries(ctx, f)
}

func (a alertAdmin) RetryDelivery(ctx context.Context, id int64) error {
	return a.p.worker.Retry(ctx, id)
}

// webAlerts adapts the alert package to the dashboard.
type webAlerts struct{ a alertAdmin }

func (w webAlerts) ListRules(ctx context.Context) ([]json.RawMessage, error) {
	rules, err := w.a.p.rules.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(rules))
	for _, r := range rules {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (w webAlerts) SaveRule(ctx context.Context, id string, rule json.RawMessage) (json.RawMessage, error) {
	var saved any
	var err error
	if id == "" {
		saved, err = w.a.CreateRule(ctx, rule)
	} else {
		saved, err = w.a.UpdateRule(ctx, id, rule)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(saved)
}

func (w webAlerts) DeleteRule(ctx context.Context, id string) error { return w.a.DeleteRule(ctx, id) }

// SendTest sends a test alert through every channel of the rule.
func (w webAlerts) SendTest(ctx context.Context, id string) error {
	rule, err := w.a.p.rules.Get(ctx, id)
	if err != nil {
		return err
	}
	for i := range rule.Channels {
		if err := w.a.p.worker.TestRuleChannel(ctx, w.a.p.rules, id, i); err != nil {
			return err
		}
	}
	return nil
}

func (w webAlerts) ListDeliveries(ctx context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	return w.a.ListDeliveries(ctx, f)
}

func (w webAlerts) RetryDelivery(ctx context.Context, id int64) error {
	return w.a.RetryDelivery(ctx, id)
}
