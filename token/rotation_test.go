package token

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// memRecorder keeps the audit events a Rotator records.
type memRecorder struct {
	mu     sync.Mutex
	events []*sm.Event
}

func (r *memRecorder) Record(_ context.Context, e *sm.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *memRecorder) all() []*sm.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// busLog subscribes to bus and keeps the kinds it carries. The bus
// delivers on a goroutine of its own, in order: the returned function first
// sends a marker through it and waits for it, so it sees every message
// published before the call.
func busLog(bus sm.Bus) func() []string {
	const marker = "test.sync"
	var mu sync.Mutex
	var kinds []string
	synced := make(chan struct{}, 1)
	bus.Subscribe(func(m sm.Message) {
		if m.Kind == marker {
			synced <- struct{}{}
			return
		}
		mu.Lock()
		kinds = append(kinds, m.Kind)
		mu.Unlock()
	})
	return func() []string {
		_ = bus.Publish(context.Background(), sm.Message{Kind: marker})
		select {
		case <-synced:
		case <-time.After(10 * time.Second): // a hang guard, not a timing check
			panic("the bus did not deliver")
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(kinds)
	}
}

func TestRotatorRotatesWhenDue(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	ctx, rec, bus := context.Background(), &memRecorder{}, sm.NewLocalBus(nil)
	kinds := busLog(bus)
	r := &Rotator{Keyring: kr, Period: time.Hour, Audit: rec, Bus: bus}
	oldKid := kr.SignerID()

	clock.Advance(time.Hour - time.Second)
	if rotated, err := r.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("a key younger than the period: rotated=%v err=%v", rotated, err)
	}
	if kr.SignerID() != oldKid || len(rec.all()) != 0 || len(kinds()) != 0 {
		t.Fatal("nothing due, yet something changed")
	}

	rotatedAt := clock.Advance(time.Second)
	if rotated, err := r.RotateIfDue(ctx); err != nil || !rotated {
		t.Fatalf("a key of the period's age: rotated=%v err=%v", rotated, err)
	}
	newKid := kr.SignerID()
	if newKid == oldKid || !kr.SignerSince().Equal(rotatedAt) {
		t.Fatalf("signer after rotation: %s since %v", newKid, kr.SignerSince())
	}
	events := rec.all()
	if len(events) != 1 {
		t.Fatalf("%d audit events, want 1", len(events))
	}
	e := events[0]
	var data struct {
		NewKeyID      string    `json:"newKeyId"`
		RetiredKeyIDs []string  `json:"retiredKeyIds"`
		RetiredUntil  time.Time `json:"retiredUntil"`
		Trigger       string    `json:"trigger"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatal(err)
	}
	if e.Type != "signing_key.rotated" || e.ActorType != sm.ActorSystem || !e.At.Equal(rotatedAt) {
		t.Fatalf("audit event %+v", e)
	}
	if data.NewKeyID != newKid || !slices.Equal(data.RetiredKeyIDs, []string{oldKid}) || data.Trigger != TriggerSchedule ||
		!data.RetiredUntil.Equal(rotatedAt.Add(16*time.Minute)) {
		t.Fatalf("audit data %+v", data)
	}
	if got := kinds(); !slices.Equal(got, []string{sm.MsgSigningKeysChanged}) {
		t.Fatalf("bus carried %v", got)
	}

	// The new key is young: the next check does nothing.
	clock.Advance(time.Minute)
	if rotated, err := r.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("right after a rotation: rotated=%v err=%v", rotated, err)
	}
}

// A rotation by another instance (an earlier leader, the CLI) restarts the
// period: the leader reloads before it judges the key's age.
func TestRotatorCountsAnotherInstancesRotation(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	a := newTestKeyring(t, store, clock)
	b := newTestKeyring(t, store, clock)
	ctx := context.Background()
	clock.Advance(time.Hour)
	if _, err := (&Rotator{Keyring: a, Period: time.Hour}).RotateNow(ctx, TriggerManual); err != nil {
		t.Fatal(err)
	}
	rotated, err := (&Rotator{Keyring: b, Period: time.Hour}).RotateIfDue(ctx)
	if err != nil || rotated {
		t.Fatalf("b rotated a key a had just rotated in: rotated=%v err=%v", rotated, err)
	}
	if keys, _ := store.ListSigningKeys(ctx); len(keys) != 2 {
		t.Fatalf("store has %d keys, want 2", len(keys))
	}
	if b.SignerID() != a.SignerID() {
		t.Fatal("b does not sign with a's new key after reloading")
	}
}

func TestRetireGrace(t *testing.T) {
	for _, tc := range []struct {
		ttl, grace, want time.Duration
	}{
		{15 * time.Minute, 0, time.Minute},
		{20 * time.Second, 0, 20 * time.Second},
		{15 * time.Minute, 5 * time.Minute, 5 * time.Minute},
	} {
		clock := newClock()
		kr, err := NewKeyring(context.Background(), &memKeyStore{}, mustSecrets(t, testKey(1)), Config{
			Issuer: testIssuer, Audience: testAudience, TTL: tc.ttl, RetireGrace: tc.grace, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		rot, err := kr.Rotate(context.Background(), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := rot.RetiredUntil.Sub(clock.Now()); got != tc.ttl+tc.want {
			t.Errorf("TTL %v grace %v: retired key lives %v after the rotation, want %v", tc.ttl, tc.grace, got, tc.ttl+tc.want)
		}
	}
}

// An instance that has not yet picked up a rotation still signs with the
// retired key; its tokens verify everywhere for their whole life as long as
// it picks up within the grace.
func TestLaggingInstanceTokensOutliveNoKey(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	leader := newTestKeyring(t, store, clock)
	lagging := newTestKeyring(t, store, clock)
	ctx := context.Background()
	rotatedAt := clock.Now()
	if _, err := leader.Rotate(ctx, rotatedAt); err != nil {
		t.Fatal(err)
	}
	late := clock.Advance(59 * time.Second) // the lagging instance has not reloaded
	tok, c := mustIssue(t, lagging, late)
	if c.KeyID == leader.SignerID() {
		t.Fatal("the lagging instance already signs with the new key")
	}
	fresh := newTestKeyring(t, store, clock)
	if _, err := fresh.Verify(tok, c.ExpiresAt.Add(-time.Second)); err != nil {
		t.Fatalf("a lagging instance's token just before its exp: %v", err)
	}
	if !c.ExpiresAt.Before(rotatedAt.Add(16 * time.Minute)) {
		t.Fatal("the token outlives its key")
	}
}

// Watch reloads when the bus announces a rotation, so the other instance
// signs with the new key at once (its periodic reload is 30s away here).
func TestWatchPicksUpRotationFromTheBus(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	a := newTestKeyring(t, store, clock)
	b := newTestKeyring(t, store, clock)
	bus := sm.NewLocalBus(nil)
	lists := store.listCalls()
	stop := watch(t, b, bus)
	defer stop()
	// Watch has subscribed once its first reload has read the store.
	for deadline := time.Now().Add(10 * time.Second); store.listCalls() == lists; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not start")
		}
	}
	rot, err := (&Rotator{Keyring: a, Period: time.Hour, Bus: bus}).RotateNow(context.Background(), TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	waitForSigner(t, b, rot.NewKeyID)
	tok, c := mustIssue(t, b, clock.Now())
	if c.KeyID != rot.NewKeyID || !verifies(a, tok, clock.Now()) {
		t.Fatalf("b's token after the rotation: kid %s, verifies on a: %v", c.KeyID, verifies(a, tok, clock.Now()))
	}
}

// Without a bus (or when its message is lost), Watch's periodic reload,
// every RetireGrace/2, picks the rotation up.
func TestWatchPicksUpRotationWithoutBus(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	cfg := Config{Issuer: testIssuer, Audience: testAudience, TTL: 15 * time.Minute, RetireGrace: 200 * time.Millisecond, Now: clock.Now}
	a, err := NewKeyring(context.Background(), store, mustSecrets(t, testKey(1)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKeyring(context.Background(), store, mustSecrets(t, testKey(1)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := watch(t, b, nil)
	defer stop()
	rot, err := a.Rotate(context.Background(), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitForSigner(t, b, rot.NewKeyID)
}

// watch runs kr.Watch until the returned stop is called.
func watch(t *testing.T, kr *Keyring, bus sm.Bus) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kr.Watch(ctx, bus, nil) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}
}

// waitForSigner waits until kr signs with kid; the deadline only bounds a
// failing test.
func waitForSigner(t *testing.T, kr *Keyring, kid string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for kr.SignerID() != kid {
		if time.Now().After(deadline) {
			t.Fatalf("still signing with %s, want %s", kr.SignerID(), kid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWithdraw(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	other := newTestKeyring(t, store, clock)
	ctx, rec, bus := context.Background(), &memRecorder{}, sm.NewLocalBus(nil)
	kinds := busLog(bus)
	r := &Rotator{Keyring: kr, Period: time.Hour, Audit: rec, Bus: bus}
	oldTok, old := mustIssue(t, kr, clock.Now())
	if err := r.Withdraw(ctx, old.KeyID); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("withdrawing the signing key: %v", err)
	}
	if _, err := r.RotateNow(ctx, TriggerManual); err != nil {
		t.Fatal(err)
	}
	if !verifies(other, oldTok, clock.Now()) {
		t.Fatal("a retired key's token does not verify")
	}
	if err := r.Withdraw(ctx, old.KeyID); err != nil {
		t.Fatal(err)
	}
	if verifies(kr, oldTok, clock.Now()) {
		t.Fatal("a withdrawn key's token verifies")
	}
	if err := other.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if verifies(other, oldTok, clock.Now()) {
		t.Fatal("a withdrawn key's cached token verifies on another instance after its reload")
	}
	if kids := jwksKids(t, kr.JWKS()); slices.Contains(kids, old.KeyID) {
		t.Fatalf("JWKS after the withdrawal: %v", kids)
	}
	events := rec.all()
	if len(events) != 2 || events[1].Type != "signing_key.withdrawn" || events[1].ActorType != sm.ActorSystem {
		t.Fatalf("audit events %+v", events)
	}
	if got := kinds(); len(got) != 2 || got[1] != sm.MsgSigningKeysChanged {
		t.Fatalf("bus carried %v", got)
	}
	if err := r.Withdraw(ctx, "no-such-key"); sm.ErrorCode(err) != sm.ENOTFOUND {
		t.Fatalf("withdrawing an unknown key: %v", err)
	}
}
