package main

import (
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
	// admin is the rules and the outbox as the core's sm.AlertRules
	// (sm.Config.AlertRules): the Manager gates and audits them.
	admin *alert.Admin
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

func buildAlerts(ctx context.Context, c *config, st fullStore, sec sm.Secrets, allows func(string) bool, log *slog.Logger) (*alertParts, error) {
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
		email, err := alert.NewEmailSender(alert.EmailConfig{SMTPURL: c.SMTPURL, From: c.AlertFrom, Templates: alert.NewTemplates(st),
			ReportLinks: sm.ReportLinks{Secrets: sec, BaseURL: c.PublicURL}})
		if err != nil {
			return nil, &configError{"SMTP_URL is invalid: " + err.Error()}
		}
		senders[alert.ChannelEmail] = email
	}
	parts.worker = alert.NewWorker(alert.WorkerConfig{Store: st, Dispatcher: alert.NewDispatcher(senders), Clock: c.clock, Sealer: sec, Targets: targets, Logger: log,
		Conditions: &alert.ConditionConfig{Rules: rules, Evaluator: parts.conditions, Allowed: conditionsAllowed,
			OnRuleDisabled: func(ctx context.Context, _ string) {
				if parts.announce != nil {
					parts.announce(ctx)
				}
			}}})
	parts.admin = alert.NewAdmin(rules, parts.worker)
	return parts, nil
}
