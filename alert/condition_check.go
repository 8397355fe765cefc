package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// DefaultMaxOverruns is how many evaluations in a row of one rule's
// condition may hit a limit before the rule is disabled.
const DefaultMaxOverruns = 3

// pendingCondition marks a delivery whose rule's condition is still to be
// evaluated: the Worker evaluates it before sending, once per alert.
type pendingCondition struct {
	RuleID  string `json:"ruleId"`
	AlertID string `json:"alertId"`
	// Event is the documented event object the condition sees.
	Event json.RawMessage `json:"event"`
}

// pendingTarget is the Target of such a delivery: the channel (as every
// target) plus the pending condition, which senders ignore.
type pendingTarget struct {
	Channel
	PendingCondition *pendingCondition `json:"pendingCondition,omitempty"`
}

// pendingOf returns the condition d waits for, or nil.
func pendingOf(d *sm.Delivery) *pendingCondition {
	var t struct {
		PendingCondition *pendingCondition `json:"pendingCondition"`
	}
	if json.Unmarshal(d.Target, &t) != nil {
		return nil
	}
	return t.PendingCondition
}

// ConditionConfig wires the Worker's evaluation of custom conditions.
type ConditionConfig struct {
	Rules *Rules
	// Evaluator runs the conditions (a ProcessEvaluator in production).
	Evaluator ConditionEvaluator
	// Allowed says whether the licence lets conditions run; nil: always.
	Allowed func() bool
	// MaxOverruns in a row disable the rule (default DefaultMaxOverruns).
	MaxOverruns int
	// OnRuleDisabled is called after a rule was disabled for its overruns
	// (the server tells its other instances to reload the rules).
	OnRuleDisabled func(ctx context.Context, ruleID string)
}

// conditionChecks decides pending conditions for the Worker: one
// evaluation per alert however many channels it has, overruns counted per
// rule, the rule disabled after MaxOverruns in a row.
type conditionChecks struct {
	cfg ConditionConfig
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	decisions map[string]*decision // by alert id
	overruns  map[string]overrunCount
	// pruneAt is the size of decisions that triggers the next pass over
	// it (twice what the last one left, at least minPruneAt), lastPrune
	// that pass's time: one scan per doubling or per decisionTTL keeps
	// recording an outcome O(1) amortised. scanned counts the entries the
	// passes looked at (for tests).
	pruneAt   int
	lastPrune time.Time
	scanned   int
}

// minPruneAt is the smallest decisions size that triggers a pruning pass.
const minPruneAt = 64

// overrunCount counts consecutive overruns of one rule's condition source.
type overrunCount struct {
	source string
	n      int
}

// decision is the outcome of one alert's condition, shared by its
// deliveries (and their retries, while the process lives).
type decision struct {
	done   chan struct{}
	at     time.Time
	fire   bool
	reason string
	err    error
}

// decisionTTL is how long an outcome is kept for the alert's other
// deliveries and retries.
const decisionTTL = time.Hour

func newConditionChecks(cfg *ConditionConfig, now func() time.Time, log *slog.Logger) *conditionChecks {
	c := &conditionChecks{log: log, now: now, decisions: map[string]*decision{}, overruns: map[string]overrunCount{}, pruneAt: minPruneAt}
	if cfg != nil {
		c.cfg = *cfg
	}
	if c.cfg.MaxOverruns <= 0 {
		c.cfg.MaxOverruns = DefaultMaxOverruns
	}
	return c
}

// decide says whether the alert of a pending delivery is to be sent; when
// not, reason says why. err is a failure to evaluate at all (retry later).
func (c *conditionChecks) decide(ctx context.Context, p *pendingCondition) (fire bool, reason string, err error) {
	c.mu.Lock()
	if d, ok := c.decisions[p.AlertID]; ok {
		c.mu.Unlock()
		select {
		case <-d.done:
		case <-ctx.Done():
			return false, "", ctx.Err()
		}
		if d.err == nil {
			return d.fire, d.reason, nil
		}
		c.mu.Lock() // the other attempt failed: evaluate again
	}
	d := &decision{done: make(chan struct{}), at: c.now()}
	c.decisions[p.AlertID] = d
	c.prune(d.at)
	c.mu.Unlock()
	d.fire, d.reason, d.err = c.evaluate(ctx, p)
	if d.err != nil {
		c.mu.Lock()
		delete(c.decisions, p.AlertID)
		c.mu.Unlock()
	}
	close(d.done)
	return d.fire, d.reason, d.err
}

// prune drops the outcomes older than decisionTTL, when the map has
// doubled since the last pass or a TTL has passed since it. c.mu is held.
func (c *conditionChecks) prune(now time.Time) {
	if len(c.decisions) < c.pruneAt && now.Sub(c.lastPrune) <= decisionTTL {
		return
	}
	c.scanned += len(c.decisions)
	for id, old := range c.decisions {
		if now.Sub(old.at) > decisionTTL {
			delete(c.decisions, id)
		}
	}
	c.pruneAt, c.lastPrune = max(minPruneAt, 2*len(c.decisions)), now
}

// evaluate runs the rule's current condition on the event.
func (c *conditionChecks) evaluate(ctx context.Context, p *pendingCondition) (bool, string, error) {
	if c.cfg.Rules == nil {
		return false, "no alert rules", nil
	}
	rule, ok := c.cfg.Rules.find(p.RuleID)
	switch {
	case !ok:
		return false, "rule deleted before its condition was evaluated", nil
	case !rule.Enabled:
		return false, "rule disabled before its condition was evaluated", nil
	case rule.Condition == "":
		return true, "", nil // the condition was removed: the triggers decided
	case c.cfg.Allowed != nil && !c.cfg.Allowed():
		return false, "custom conditions are not included in this licence", nil
	case c.cfg.Evaluator == nil:
		c.log.Warn("alert rule has a condition but no condition evaluator is configured; alert dropped", "rule", rule.ID)
		return false, "no condition evaluator configured", nil
	}
	fired, err := c.cfg.Evaluator.Evaluate(ctx, rule.Condition, p.Event)
	var overrun *OverrunError
	var failed *ConditionError
	switch {
	case errors.As(err, &overrun):
		c.overran(ctx, rule, overrun)
		return false, overrun.Error(), nil
	case errors.As(err, &failed):
		c.resetOverruns(rule.ID)
		c.log.Warn("alert rule condition failed; treated as false", "rule", rule.ID, "error", failed.Message)
		return false, failed.Error(), nil
	case err != nil:
		return false, "", err
	}
	c.resetOverruns(rule.ID)
	if !fired {
		return false, "condition returned false", nil
	}
	return true, "", nil
}

func (c *conditionChecks) resetOverruns(ruleID string) {
	c.mu.Lock()
	delete(c.overruns, ruleID)
	c.mu.Unlock()
}

// overran counts an overrun and disables the rule at MaxOverruns in a row.
func (c *conditionChecks) overran(ctx context.Context, rule storedRule, overrun *OverrunError) {
	c.mu.Lock()
	n := c.overruns[rule.ID]
	if n.source != rule.Condition {
		n = overrunCount{source: rule.Condition}
	}
	n.n++
	c.overruns[rule.ID] = n
	c.mu.Unlock()
	c.log.Warn("alert rule condition exceeded its limits; alert dropped", "rule", rule.ID, "limit", overrun.Limit,
		"in_a_row", n.n, "error", overrun.Detail)
	if n.n < c.cfg.MaxOverruns {
		return
	}
	reason := fmt.Sprintf("disabled automatically at %s: its condition exceeded its %s limit %d times in a row (%s); fix the condition and enable the rule again",
		c.now().UTC().Format(time.RFC3339), overrun.Limit, n.n, overrun.Detail)
	disabled, err := c.cfg.Rules.Disable(ctx, rule.ID, rule.Condition, reason)
	if err != nil {
		c.log.Error("alert rule could not be disabled after repeated condition overruns", "rule", rule.ID, "error", err)
		return
	}
	c.resetOverruns(rule.ID)
	if !disabled {
		return // already disabled, or its condition changed meanwhile
	}
	c.log.Error("alert rule disabled: its condition exceeded its limits repeatedly", "rule", rule.ID, "reason", reason)
	if c.cfg.OnRuleDisabled != nil {
		c.cfg.OnRuleDisabled(ctx, rule.ID)
	}
}
