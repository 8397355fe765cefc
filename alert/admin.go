package alert

import (
	"context"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Admin is the rules and the outbox as the core's sm.AlertRules: the rules
// (List, Get, Create, Update, Delete) with the worker that sends the tests
// and keeps the deliveries. The Manager wraps it with the licence gate and
// the audit (sm.Config.AlertRules, Manager.AlertRules).
type Admin struct {
	*Rules
	worker *Worker
}

var _ sm.AlertRules = (*Admin)(nil)

// NewAdmin joins the rules and the worker.
func NewAdmin(rules *Rules, worker *Worker) *Admin { return &Admin{Rules: rules, worker: worker} }

// TestChannel sends a test alert through c (secret in clear).
func (a *Admin) TestChannel(ctx context.Context, c sm.AlertChannel) error {
	return a.worker.Test(ctx, c)
}

// TestRule sends a test alert through every channel of rule id.
func (a *Admin) TestRule(ctx context.Context, id string) error {
	return a.worker.TestRule(ctx, a.Rules, id)
}

// ListDeliveries lists one page of the outbox.
func (a *Admin) ListDeliveries(ctx context.Context, f sm.DeliveryFilter) ([]*sm.Delivery, string, error) {
	return a.worker.ListDeliveries(ctx, f)
}

// RetryDelivery makes a dead delivery pending again and wakes the worker.
func (a *Admin) RetryDelivery(ctx context.Context, id int64) error {
	return a.worker.Retry(ctx, id)
}
