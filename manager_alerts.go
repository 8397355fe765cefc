package sessionmanager

import "context"

// AlertRules is the alert-rule admin the front ends call: Config.AlertRules
// behind the licence gate, with every change audited (the actor in ctx,
// see WithActor) and announced to the other instances. nil when no rules
// are configured.
func (m *Manager) AlertRules() AlertRules {
	if m.cfg.AlertRules == nil {
		return nil
	}
	return &alertRuleAdmin{m: m, rules: m.cfg.AlertRules}
}

// alertRuleAdmin is the one place alert-rule admin is gated and audited,
// for the API and the dashboard alike.
type alertRuleAdmin struct {
	m     *Manager
	rules AlertRules
}

func (a *alertRuleAdmin) List(ctx context.Context) ([]AlertRule, error) { return a.rules.List(ctx) }

func (a *alertRuleAdmin) Get(ctx context.Context, id string) (AlertRule, error) {
	return a.rules.Get(ctx, id)
}

// gate refuses a rule the licence would ignore: any enabled rule without
// the alerts feature, a new or changed JavaScript condition without custom
// conditions. Disabling a rule, and a condition already stored (a licence
// that expired), stay accepted.
func (a *alertRuleAdmin) gate(r AlertRule, old *AlertRule) error {
	if r.Enabled {
		if err := a.m.RequireFeature(FeatureAlerts, "an enabled alert rule"); err != nil {
			return err
		}
	}
	if r.Condition != "" && (old == nil || old.Condition != r.Condition) {
		return a.m.RequireFeature(FeatureCondition, "a JavaScript condition")
	}
	return nil
}

// changed announces a change of the rules (the other instances reload
// them) and audits it.
func (a *alertRuleAdmin) changed(ctx context.Context, action string, details map[string]any) {
	a.m.AnnounceSettingsChange(ctx)
	a.m.auditAdmin(ctx, action, "", "", details)
}

func (a *alertRuleAdmin) Create(ctx context.Context, r AlertRule) (AlertRule, error) {
	if err := a.gate(r, nil); err != nil {
		return AlertRule{}, err
	}
	created, err := a.rules.Create(ctx, r)
	if err != nil {
		return AlertRule{}, err
	}
	a.changed(ctx, "alert_rule.create", map[string]any{"rule": created.ID})
	return created, nil
}

func (a *alertRuleAdmin) Update(ctx context.Context, id string, r AlertRule) (AlertRule, error) {
	old, err := a.rules.Get(ctx, id)
	if err != nil {
		return AlertRule{}, err
	}
	if err := a.gate(r, &old); err != nil {
		return AlertRule{}, err
	}
	updated, err := a.rules.Update(ctx, id, r)
	if err != nil {
		return AlertRule{}, err
	}
	a.changed(ctx, "alert_rule.update", map[string]any{"rule": id})
	return updated, nil
}

func (a *alertRuleAdmin) Delete(ctx context.Context, id string) error {
	if err := a.rules.Delete(ctx, id); err != nil {
		return err
	}
	a.changed(ctx, "alert_rule.delete", map[string]any{"rule": id})
	return nil
}

// TestChannel is audited too: it makes the server post to an address the
// admin chose.
func (a *alertRuleAdmin) TestChannel(ctx context.Context, c AlertChannel) error {
	if err := a.rules.TestChannel(ctx, c); err != nil {
		return err
	}
	a.m.auditAdmin(ctx, "alert_channel.test", "", "", map[string]any{"channel": c.Type})
	return nil
}

func (a *alertRuleAdmin) TestRule(ctx context.Context, id string) error {
	if err := a.rules.TestRule(ctx, id); err != nil {
		return err
	}
	a.m.auditAdmin(ctx, "alert_rule.test", "", "", map[string]any{"rule": id})
	return nil
}

func (a *alertRuleAdmin) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error) {
	return a.rules.ListDeliveries(ctx, f)
}

func (a *alertRuleAdmin) RetryDelivery(ctx context.Context, id int64) error {
	if err := a.rules.RetryDelivery(ctx, id); err != nil {
		return err
	}
	a.m.auditAdmin(ctx, "alert_delivery.retry", "", "", map[string]any{"delivery": id})
	return nil
}
