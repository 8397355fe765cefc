package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// RulesKey is the settings-store key of the rules document (a JSON array).
const RulesKey = "alert.rules"

// maxRules caps how many rules one deployment keeps.
const maxRules = 200

// RulesConfig wires a Rules service.
type RulesConfig struct {
	Store sm.SettingsStore
	// Sealer seals webhook secrets (sessionmanager.Secrets satisfies it).
	Sealer Sealer
	// Targets validates channel URLs at save time.
	Targets TargetPolicy
	Now     func() time.Time
	Logger  *slog.Logger
}

// compiledRule is an enabled rule ready for the hot path.
type compiledRule struct {
	rule    storedRule
	prog    *goja.Program // nil: no condition
	targets []json.RawMessage
}

// ruleSet is one immutable snapshot of the rules.
type ruleSet struct {
	rules   []storedRule // stored form, secrets sealed
	enabled []*compiledRule
}

// Rules keeps the alert rules in the settings store and a compiled snapshot
// in memory that the Engine reads without locks.
type Rules struct {
	cfg  RulesConfig
	mu   sync.Mutex // serialises this instance's writes
	snap atomic.Pointer[ruleSet]
}

// NewRules loads the rules from the store.
func NewRules(ctx context.Context, cfg RulesConfig) (*Rules, error) {
	if cfg.Store == nil || cfg.Sealer == nil {
		return nil, sm.Errorf(sm.EINTERNAL, "alert: rules need a store and a sealer")
	}
	if cfg.Now == nil {
		cfg.Now = sm.SystemClock{}.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Rules{cfg: cfg}
	r.snap.Store(&ruleSet{})
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	if r.hasClearChatURL() {
		// A document written before chat URLs were sealed: seal them now
		// (write seals every clear one) rather than at the next save.
		if _, err := r.write(ctx, func(rules []storedRule) ([]storedRule, *storedRule, error) { return rules, nil, nil }); err != nil {
			return nil, fmt.Errorf("alert: seal stored chat webhook URLs: %w", err)
		}
		r.cfg.Logger.Info("alert rules: sealed the Slack/Discord webhook URLs stored in clear")
	}
	return r, nil
}

// hasClearChatURL reports whether a stored chat URL is not sealed yet.
func (r *Rules) hasClearChatURL() bool {
	for _, rule := range r.snap.Load().rules {
		for _, c := range rule.Channels {
			if c.isChat() && c.URL != "" && len(c.SealedURL) == 0 {
				return true
			}
		}
	}
	return false
}

// Reload re-reads the rules from the store (another instance changed them).
func (r *Rules) Reload(ctx context.Context) error {
	rules, err := r.load(ctx)
	if err != nil {
		return err
	}
	r.snap.Store(r.compile(rules))
	return nil
}

func (r *Rules) load(ctx context.Context) ([]storedRule, error) {
	raw, err := r.cfg.Store.GetSetting(ctx, RulesKey)
	if sm.IsNotFound(err) {
		return []storedRule{}, nil
	}
	if err != nil {
		return nil, err
	}
	var rules []storedRule
	if err := json.Unmarshal(raw, &rules); err != nil {
		return nil, fmt.Errorf("alert: rules document: %w", err)
	}
	// In memory a chat channel holds its URL in clear next to the sealed one
	// (to validate and mask it); only the sealed one is stored.
	for i := range rules {
		for j := range rules[i].Channels {
			c := &rules[i].Channels[j]
			if !c.isChat() || len(c.SealedURL) == 0 {
				continue
			}
			u, err := r.cfg.Sealer.Open(c.SealedURL, chatURLAD(rules[i].ID))
			if err != nil {
				r.cfg.Logger.Error("alert rule chat webhook URL does not open (key rotated away?); the channel cannot send",
					"rule", rules[i].ID, "channel", j, "error", err)
				c.URL = ""
				continue
			}
			c.URL = string(u)
		}
	}
	return rules, nil
}

// atRest returns the rules document as stored: every chat URL sealed and
// none in clear, no webhook secret in clear.
func (r *Rules) atRest(rules []storedRule) ([]storedRule, error) {
	out := make([]storedRule, len(rules))
	for i, rule := range rules {
		rule.Channels = slices.Clone(rule.Channels)
		for j := range rule.Channels {
			c := &rule.Channels[j]
			if c.isChat() && c.URL != "" && len(c.SealedURL) == 0 {
				sealed, err := r.cfg.Sealer.Seal([]byte(c.URL), chatURLAD(rule.ID))
				if err != nil {
					return nil, fmt.Errorf("alert: seal chat webhook URL: %w", err)
				}
				rules[i].Channels[j].SealedURL = sealed
				c.SealedURL = sealed
			}
			*c = c.atRest()
		}
		out[i] = rule
	}
	return out, nil
}

// compile builds the snapshot; a stored condition that no longer compiles
// disables its rule (logged) instead of failing every login.
func (r *Rules) compile(rules []storedRule) *ruleSet {
	set := &ruleSet{rules: rules}
	for _, rule := range rules {
		if !rule.Enabled {
			continue
		}
		c := &compiledRule{rule: rule}
		if rule.Condition != "" {
			prog, msg := compileCondition(rule.Condition)
			if prog == nil {
				r.cfg.Logger.Error("alert rule condition does not compile; rule skipped", "rule", rule.ID, "error", msg)
				continue
			}
			c.prog = prog
		}
		for _, ch := range rule.Channels {
			t, err := ch.targetJSON()
			if err != nil {
				continue
			}
			c.targets = append(c.targets, t)
		}
		set.enabled = append(set.enabled, c)
	}
	return set
}

// List returns every rule, secrets masked.
func (r *Rules) List(ctx context.Context) ([]sm.AlertRule, error) {
	rules := r.snap.Load().rules
	out := make([]sm.AlertRule, len(rules))
	for i, rule := range rules {
		out[i] = rule.redacted()
	}
	return out, nil
}

// Get returns one rule, secrets masked, or ENOTFOUND.
func (r *Rules) Get(ctx context.Context, id string) (sm.AlertRule, error) {
	if rule, ok := r.find(id); ok {
		return rule.redacted(), nil
	}
	return sm.AlertRule{}, sm.Errorf(sm.ENOTFOUND, "alert rule not found")
}

// Create validates and stores a new rule; it returns the rule as stored
// (secrets masked).
func (r *Rules) Create(ctx context.Context, in sm.AlertRule) (sm.AlertRule, error) {
	rule := storedFrom(in)
	return r.write(ctx, func(rules []storedRule) ([]storedRule, *storedRule, error) {
		if len(rules) >= maxRules {
			return nil, nil, sm.Errorf(sm.EINVALID, "at most %d alert rules", maxRules)
		}
		rule.ID = "rule_" + randomID()[:20]
		rule.DisabledReason, rule.DisabledAt = "", time.Time{}
		now := r.cfg.Now()
		rule.CreatedAt, rule.UpdatedAt = now, now
		if err := r.prepare(ctx, &rule, nil); err != nil {
			return nil, nil, err
		}
		rules = append(rules, rule)
		return rules, &rules[len(rules)-1], nil
	})
}

// Update replaces rule id. A webhook secret left empty or "********" keeps
// the stored one of the channel with the same URL.
func (r *Rules) Update(ctx context.Context, id string, in sm.AlertRule) (sm.AlertRule, error) {
	rule := storedFrom(in)
	return r.write(ctx, func(rules []storedRule) ([]storedRule, *storedRule, error) {
		i := slices.IndexFunc(rules, func(x storedRule) bool { return x.ID == id })
		if i < 0 {
			return nil, nil, sm.Errorf(sm.ENOTFOUND, "alert rule not found")
		}
		old := rules[i]
		rule.ID, rule.CreatedAt, rule.UpdatedAt = old.ID, old.CreatedAt, r.cfg.Now()
		// Why the server disabled the rule stays until an admin enables it.
		rule.DisabledReason, rule.DisabledAt = "", time.Time{}
		if !rule.Enabled && !old.Enabled {
			rule.DisabledReason, rule.DisabledAt = old.DisabledReason, old.DisabledAt
		}
		if err := r.prepare(ctx, &rule, &old); err != nil {
			return nil, nil, err
		}
		rules[i] = rule
		return rules, &rules[i], nil
	})
}

// Delete removes rule id, or returns ENOTFOUND.
func (r *Rules) Delete(ctx context.Context, id string) error {
	_, err := r.write(ctx, func(rules []storedRule) ([]storedRule, *storedRule, error) {
		i := slices.IndexFunc(rules, func(x storedRule) bool { return x.ID == id })
		if i < 0 {
			return nil, nil, sm.Errorf(sm.ENOTFOUND, "alert rule not found")
		}
		return slices.Delete(rules, i, i+1), nil, nil
	})
	return err
}

// write reads the current document from the store (not the snapshot, so a
// change made by another instance is kept), applies change and saves.
// The settings store has no compare-and-swap: two instances writing at the
// same moment is last-writer-wins.
func (r *Rules) write(ctx context.Context, change func([]storedRule) ([]storedRule, *storedRule, error)) (sm.AlertRule, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rules, err := r.load(ctx)
	if err != nil {
		return sm.AlertRule{}, err
	}
	rules, changed, err := change(rules)
	if err != nil {
		return sm.AlertRule{}, err
	}
	stored, err := r.atRest(rules)
	if err != nil {
		return sm.AlertRule{}, err
	}
	doc, err := json.Marshal(stored)
	if err != nil {
		return sm.AlertRule{}, err
	}
	if err := r.cfg.Store.PutSetting(ctx, RulesKey, doc); err != nil {
		return sm.AlertRule{}, err
	}
	r.snap.Store(r.compile(rules))
	if changed == nil {
		return sm.AlertRule{}, nil
	}
	return changed.redacted(), nil
}

// prepare validates rule, compiles its condition and seals new webhook
// secrets; old is the rule being updated (nil on create).
func (r *Rules) prepare(ctx context.Context, rule *storedRule, old *storedRule) error {
	for i := range rule.Channels {
		c := &rule.Channels[i]
		if c.Secret == maskedSecret {
			c.Secret = ""
		}
		if c.Secret == "" && old != nil {
			c.SealedSecret = keptSecret(old, c, i)
		}
		// A chat webhook URL left masked keeps the stored one.
		if (c.Type == ChannelSlack || c.Type == ChannelDiscord) && isMaskedURL(c.URL) && old != nil {
			if i < len(old.Channels) && old.Channels[i].Type == c.Type && maskURL(old.Channels[i].URL) == c.URL {
				c.URL = old.Channels[i].URL
			}
		}
	}
	bad := r.cfg.Targets.validateRule(ctx, rule)
	if rule.Condition != "" {
		if _, msg := compileCondition(rule.Condition); msg != "" {
			bad["condition"] = msg
		}
	}
	if len(bad) > 0 {
		return sm.InvalidFields(bad)
	}
	for i := range rule.Channels {
		c := &rule.Channels[i]
		if c.isChat() {
			sealed, err := r.cfg.Sealer.Seal([]byte(c.URL), chatURLAD(rule.ID))
			if err != nil {
				return fmt.Errorf("alert: seal chat webhook URL: %w", err)
			}
			c.SealedURL = sealed
			continue
		}
		if c.Type != ChannelWebhook || c.Secret == "" {
			continue
		}
		sealed, err := r.cfg.Sealer.Seal([]byte(c.Secret), secretAD(rule.ID))
		if err != nil {
			return fmt.Errorf("alert: seal webhook secret: %w", err)
		}
		c.Secret, c.SealedSecret = "", sealed
	}
	return nil
}

// keptSecret finds the stored sealed secret an edited webhook channel keeps:
// the old webhook channel with the same URL, else the one at the same index.
func keptSecret(old *storedRule, c *Channel, i int) []byte {
	if c.Type != ChannelWebhook {
		return nil
	}
	for _, o := range old.Channels {
		if o.Type == ChannelWebhook && o.URL == c.URL && len(o.SealedSecret) > 0 {
			return o.SealedSecret
		}
	}
	if i < len(old.Channels) && old.Channels[i].Type == ChannelWebhook {
		return old.Channels[i].SealedSecret
	}
	return nil
}

// find returns rule id as stored (in memory), or false.
func (r *Rules) find(id string) (storedRule, bool) {
	for _, rule := range r.snap.Load().rules {
		if rule.ID == id {
			return rule, true
		}
	}
	return storedRule{}, false
}

// Disable switches rule id off with a reason an admin sees in the rule
// listing, if it is still enabled with the same condition (an admin who
// just fixed it is not overruled). It reports whether it disabled it.
func (r *Rules) Disable(ctx context.Context, id, condition, reason string) (bool, error) {
	disabled := false
	_, err := r.write(ctx, func(rules []storedRule) ([]storedRule, *storedRule, error) {
		i := slices.IndexFunc(rules, func(x storedRule) bool { return x.ID == id })
		if i < 0 || !rules[i].Enabled || rules[i].Condition != condition {
			return rules, nil, nil
		}
		now := r.cfg.Now()
		rules[i].Enabled, rules[i].DisabledReason, rules[i].DisabledAt, rules[i].UpdatedAt = false, reason, now, now
		disabled = true
		return rules, nil, nil
	})
	return disabled, err
}

// enabled returns the compiled enabled rules (the Engine's hot path).
func (r *Rules) enabled() []*compiledRule { return r.snap.Load().enabled }
