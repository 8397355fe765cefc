package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var outboxTests = []namedTest{
	{"ClaimLease", testClaimLease},
	{"FailDeadRetryComplete", testDeliveryLifecycle},
	{"ListAndDepth", testDeliveryList},
}

// appendDeliveries appends one event per delivery, the i-th due at
// t0+i minutes, and returns the deliveries (IDs set).
func appendDeliveries(t *testing.T, s Store, n int) []*sessionmanager.Delivery {
	t.Helper()
	var out []*sessionmanager.Delivery
	for i := range n {
		d := &sessionmanager.Delivery{RuleID: "rule", Channel: "slack", Payload: []byte(`{"n":` + fmt.Sprint(i) + `}`),
			IdempotencyKey: fmt.Sprint("key-", i), CreatedAt: t0, NextAttemptAt: t0.Add(time.Duration(n-i) * time.Minute)}
		e := &sessionmanager.Event{At: t0, Type: sessionmanager.EventLoginSucceeded, ActorType: sessionmanager.ActorSystem}
		noErr(t, s.AppendEvent(t.Context(), e, []*sessionmanager.Delivery{d}))
		out = append(out, d)
	}
	return out
}

func testClaimLease(t *testing.T, s Store) {
	ctx := t.Context()
	ds := appendDeliveries(t, s, 5) // ds[4] is due first (t0+1m), ds[0] last (t0+5m)
	now := t0.Add(3 * time.Minute)
	lease := 10 * time.Minute
	claimed, err := s.ClaimDeliveries(ctx, now, 2, lease)
	noErr(t, err)
	equal(t, []int64{ds[4].ID, ds[3].ID}, deliveryIDs(claimed), "oldest due first, up to the limit")
	for _, d := range claimed {
		equal(t, now.Add(lease), d.NextAttemptAt, "the claim leases delivery %d", d.ID)
		equal(t, sessionmanager.DeliveryPending, d.Status)
	}
	claimed, err = s.ClaimDeliveries(ctx, now, 10, lease)
	noErr(t, err)
	equal(t, []int64{ds[2].ID}, deliveryIDs(claimed), "leased deliveries are not claimed again; later ones are not due")
	claimed, err = s.ClaimDeliveries(ctx, now, 10, lease)
	noErr(t, err)
	check(t, len(claimed) == 0, "nothing due: %v", deliveryIDs(claimed))
	claimed, err = s.ClaimDeliveries(ctx, now.Add(lease), 10, lease)
	noErr(t, err)
	equal(t, []int64{ds[1].ID, ds[0].ID, ds[2].ID, ds[3].ID, ds[4].ID}, deliveryIDs(claimed), "an expired lease can be claimed again (due order, then id)")
}

func testDeliveryLifecycle(t *testing.T, s Store) {
	ctx := t.Context()
	ds := appendDeliveries(t, s, 2)
	d := ds[0]
	get := func(id int64) *sessionmanager.Delivery {
		t.Helper()
		all, _, err := s.ListDeliveries(ctx, sessionmanager.DeliveryFilter{Limit: 500})
		noErr(t, err)
		for _, x := range all {
			if x.ID == id {
				return x
			}
		}
		t.Fatalf("delivery %d not listed", id)
		return nil
	}
	next := t0.Add(time.Hour)
	noErr(t, s.FailDelivery(ctx, d.ID, "smtp: 451 try later", next, false))
	got := get(d.ID)
	check(t, got.Status == sessionmanager.DeliveryPending && got.Attempts == 1 && got.LastError == "smtp: 451 try later" && got.NextAttemptAt.Equal(next),
		"failed once: %+v", got)
	noErr(t, s.FailDelivery(ctx, d.ID, "smtp: 550 rejected", time.Time{}, true))
	got = get(d.ID)
	check(t, got.Status == sessionmanager.DeliveryDead && got.Attempts == 2 && got.LastError == "smtp: 550 rejected", "dead: %+v", got)
	depth, err := s.OutboxDepth(ctx)
	noErr(t, err)
	equal(t, int64(1), depth, "a dead delivery is not pending")
	claimed, err := s.ClaimDeliveries(ctx, t0.Add(48*time.Hour), 10, time.Hour)
	noErr(t, err)
	equal(t, []int64{ds[1].ID}, deliveryIDs(claimed), "a dead delivery is never claimed")

	retryAt := t0.Add(48*time.Hour + time.Second) // ds[1] is still leased
	noErr(t, s.RetryDelivery(ctx, d.ID, retryAt))
	got = get(d.ID)
	check(t, got.Status == sessionmanager.DeliveryPending && got.Attempts == 0 && got.NextAttemptAt.Equal(retryAt), "retried: %+v", got)
	claimed, err = s.ClaimDeliveries(ctx, retryAt, 10, time.Minute)
	noErr(t, err)
	equal(t, []int64{d.ID}, deliveryIDs(claimed), "a retried delivery is due at once")

	doneAt := retryAt.Add(time.Second)
	noErr(t, s.CompleteDelivery(ctx, d.ID, doneAt))
	got = get(d.ID)
	check(t, got.Status == sessionmanager.DeliveryDelivered && got.DeliveredAt.Equal(doneAt), "delivered: %+v", got)
	claimed, err = s.ClaimDeliveries(ctx, doneAt.Add(time.Hour), 10, time.Minute)
	noErr(t, err)
	for _, c := range claimed {
		check(t, c.ID != d.ID, "a delivered delivery is never claimed")
	}

	requireCode(t, s.CompleteDelivery(ctx, 999999, doneAt), sessionmanager.ENOTFOUND, "complete missing")
	requireCode(t, s.DropDelivery(ctx, 999999, "x", doneAt), sessionmanager.ENOTFOUND, "drop missing")
	requireCode(t, s.DropDelivery(ctx, d.ID, "x", doneAt), sessionmanager.ENOTFOUND, "a delivered delivery is not dropped")
	requireCode(t, s.FailDelivery(ctx, 999999, "x", doneAt, false), sessionmanager.ENOTFOUND, "fail missing")
	requireCode(t, s.RetryDelivery(ctx, 999999, doneAt), sessionmanager.ENOTFOUND, "retry missing")
}

func testDeliveryList(t *testing.T, s Store) {
	ctx := t.Context()
	ds := appendDeliveries(t, s, 7)
	noErr(t, s.CompleteDelivery(ctx, ds[0].ID, t0))
	noErr(t, s.FailDelivery(ctx, ds[1].ID, "boom", time.Time{}, true))
	noErr(t, s.DropDelivery(ctx, ds[2].ID, "condition returned false", t0))
	listAll := func(f sessionmanager.DeliveryFilter) []int64 {
		f.Limit = 2
		var ids []int64
		for range 100 {
			page, next, err := s.ListDeliveries(ctx, f)
			noErr(t, err)
			check(t, len(page) <= 2, "page larger than the limit")
			ids = append(ids, deliveryIDs(page)...)
			if next == "" {
				return sortedIDs(ids)
			}
			f.Cursor = next
		}
		t.Fatal("ListDeliveries never ended")
		return nil
	}
	var all []int64
	for _, d := range ds {
		all = append(all, d.ID)
	}
	equal(t, sortedIDs(all), listAll(sessionmanager.DeliveryFilter{}), "all, once each")
	equal(t, sortedIDs(all[3:]), listAll(sessionmanager.DeliveryFilter{Status: sessionmanager.DeliveryPending}), "pending")
	equal(t, []int64{ds[2].ID}, listAll(sessionmanager.DeliveryFilter{Status: sessionmanager.DeliveryDropped}), "dropped")
	equal(t, []int64{ds[1].ID}, listAll(sessionmanager.DeliveryFilter{Status: sessionmanager.DeliveryDead}), "dead")
	equal(t, []int64{ds[0].ID}, listAll(sessionmanager.DeliveryFilter{Status: sessionmanager.DeliveryDelivered}), "delivered")
	depth, err := s.OutboxDepth(ctx)
	noErr(t, err)
	equal(t, int64(4), depth, "a dropped delivery is not pending")
	claimed, err := s.ClaimDeliveries(ctx, t0.Add(48*time.Hour), 10, time.Minute)
	noErr(t, err)
	for _, c := range claimed {
		check(t, c.ID != ds[2].ID, "a dropped delivery is never claimed")
	}
}

// deliveryIDs lists the ids of ds in order.
func deliveryIDs(ds []*sessionmanager.Delivery) []int64 {
	ids := []int64{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// sortedIDs returns ids sorted ascending.
func sortedIDs(ids []int64) []int64 {
	out := append([]int64{}, ids...)
	slices.Sort(out)
	return out
}
