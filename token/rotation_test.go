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

// The schedule publishes the next key SignLead before the signer reaches
// the period; the key signs from the period on, and nothing more is due
// while it waits.
func TestRotatorRotatesWhenDue(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	ctx, rec, bus := context.Background(), &memRecorder{}, sm.NewLocalBus(nil)
	kinds := busLog(bus)
	r := &Rotator{Keyring: kr, Period: time.Hour, Audit: rec, Bus: bus}
	oldKid, start := kr.SignerID(), clock.Now()
	lead := kr.cfg.SignLead
	if lead != 6*time.Minute+30*time.Second {
		t.Fatalf("default lead %v, want max-age 5m + reload 30s + grace 1m", lead)
	}

	clock.Set(start.Add(time.Hour - lead - time.Second))
	if rotated, err := r.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("a key younger than the period less the lead: rotated=%v err=%v", rotated, err)
	}
	if _, from := kr.Next(); kr.SignerID() != oldKid || !from.IsZero() || len(rec.all()) != 0 || len(kinds()) != 0 {
		t.Fatal("nothing due, yet something changed")
	}

	publishedAt := clock.Advance(time.Second)
	if rotated, err := r.RotateIfDue(ctx); err != nil || !rotated {
		t.Fatalf("a key of the period's age less the lead: rotated=%v err=%v", rotated, err)
	}
	newKid, signsFrom := kr.Next()
	if newKid == "" || newKid == oldKid || !signsFrom.Equal(start.Add(time.Hour)) {
		t.Fatalf("next key %q signs from %v, want from %v", newKid, signsFrom, start.Add(time.Hour))
	}
	if kr.SignerID() != oldKid || !slices.Contains(jwksKids(t, kr.JWKS()), newKid) {
		t.Fatalf("during the lead: signer %s (want the old %s), JWKS %v", kr.SignerID(), oldKid, jwksKids(t, kr.JWKS()))
	}
	events := rec.all()
	if len(events) != 1 {
		t.Fatalf("%d audit events, want 1", len(events))
	}
	e := events[0]
	var data struct {
		NewKeyID      string    `json:"newKeyId"`
		SignsFrom     time.Time `json:"signsFrom"`
		RetiredKeyIDs []string  `json:"retiredKeyIds"`
		RetiredUntil  time.Time `json:"retiredUntil"`
		Trigger       string    `json:"trigger"`
		Immediate     bool      `json:"immediate"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatal(err)
	}
	if e.Type != "signing_key.rotated" || e.ActorType != sm.ActorSystem || !e.At.Equal(publishedAt) {
		t.Fatalf("audit event %+v", e)
	}
	if data.NewKeyID != newKid || !data.SignsFrom.Equal(signsFrom) || !slices.Equal(data.RetiredKeyIDs, []string{oldKid}) ||
		data.Trigger != TriggerSchedule || data.Immediate || !data.RetiredUntil.Equal(signsFrom.Add(16*time.Minute)) {
		t.Fatalf("audit data %+v", data)
	}
	if got := kinds(); !slices.Equal(got, []string{sm.MsgSigningKeysChanged}) {
		t.Fatalf("bus carried %v", got)
	}
	// A next key waits: nothing is due, whatever the signer's age.
	clock.Set(signsFrom.Add(-time.Second))
	if rotated, err := r.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("while the next key waits: rotated=%v err=%v", rotated, err)
	}
	if _, c := mustIssue(t, kr, clock.Now()); c.KeyID != oldKid {
		t.Fatalf("a second before its start the next key signs")
	}

	clock.Set(signsFrom)
	if _, c := mustIssue(t, kr, clock.Now()); c.KeyID != newKid || kr.SignerID() != newKid || !kr.SignerSince().Equal(signsFrom) {
		t.Fatalf("at its start: token kid %s, signer %s since %v", c.KeyID, kr.SignerID(), kr.SignerSince())
	}
	// The new key is young: the next check does nothing.
	clock.Advance(time.Minute)
	if rotated, err := r.RotateIfDue(ctx); err != nil || rotated {
		t.Fatalf("right after a rotation: rotated=%v err=%v", rotated, err)
	}
}

// A second rotation while a next key waits is refused; the emergency one
// replaces it (it never signs) and signs at once.
func TestRotateWhileNextKeyWaits(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	ctx := context.Background()
	oldKid := kr.SignerID()
	first, err := kr.Rotate(ctx, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rotate(ctx, clock.Now()); sm.ErrorCode(err) != sm.ECONFLICT {
		t.Fatalf("a rotation while a next key waits: %v", err)
	}
	r := &Rotator{Keyring: kr}
	if err := r.Withdraw(ctx, first.NewKeyID); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("withdrawing the next key: %v", err)
	}
	urgent, err := kr.RotateImmediately(ctx, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if kr.SignerID() != urgent.NewKeyID || !slices.Contains(urgent.RetiredKeyIDs, oldKid) || !slices.Contains(urgent.RetiredKeyIDs, first.NewKeyID) {
		t.Fatalf("emergency rotation: signer %s, %+v", kr.SignerID(), urgent)
	}
	clock.Set(first.SignsFrom)
	if _, c := mustIssue(t, kr, clock.Now()); c.KeyID != urgent.NewKeyID {
		t.Fatalf("the replaced next key signs at its start: %s", c.KeyID)
	}
	if next, _ := kr.Next(); next != "" {
		t.Fatalf("a next key after the emergency rotation: %s", next)
	}
}

// `keys rotate` from a shell whose SM_ACCESS_TOKEN_TTL is shorter than the
// server's stores an early expiry; the server's own tokens, signed with
// the old key up to the switch, still verify until their exp, on the server
// and on any instance with the server's TTL.
func TestRetiredKeyVerifiesForTheServersTTL(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	server := newTestKeyring(t, store, clock)
	cli, err := NewKeyring(context.Background(), store, mustSecrets(t, testKey(1)), Config{
		Issuer: testIssuer, Audience: testAudience, TTL: time.Minute, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rot, err := cli.Rotate(ctx, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(rot.SignsFrom.Add(-time.Second))
	tok, c := mustIssue(t, server, clock.Now())
	if c.KeyID == rot.NewKeyID {
		t.Fatal("the server signs with the next key before its start")
	}
	if !rot.RetiredUntil.Before(c.ExpiresAt) {
		t.Fatalf("the CLI's expiry %v does not fall before the token's exp %v: the test proves nothing", rot.RetiredUntil, c.ExpiresAt)
	}
	clock.Set(c.ExpiresAt.Add(-time.Second))
	fresh := newTestKeyring(t, store, clock)
	for name, kr := range map[string]*Keyring{"server": server, "fresh instance": fresh} {
		if err := kr.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Verify(tok, clock.Now()); err != nil {
			t.Errorf("%s: the server's token a second before its exp: %v", name, err)
		}
		if !slices.Contains(jwksKids(t, kr.JWKS()), c.KeyID) {
			t.Errorf("%s: the JWKS dropped the retired key before its tokens expired", name)
		}
	}
	// Past its own window (retirement + TTL + grace) the key goes.
	clock.Set(rot.SignsFrom.Add(16 * time.Minute))
	if err := server.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(jwksKids(t, server.JWKS()), c.KeyID) {
		t.Fatal("the retired key outlives the server's window")
	}
}

func TestSignLeadBelowTheJWKSMaxAge(t *testing.T) {
	_, err := NewKeyring(context.Background(), &memKeyStore{}, mustSecrets(t, testKey(1)), Config{
		Issuer: testIssuer, Audience: testAudience, JWKSMaxAge: time.Minute, SignLead: time.Minute, Now: newClock().Now,
	})
	if sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("a lead no longer than the JWKS max-age: %v", err)
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
		rot, err := kr.RotateImmediately(context.Background(), clock.Now())
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
	if _, err := leader.RotateImmediately(ctx, rotatedAt); err != nil {
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

// Two-phase rotation across instances: A publishes the next key; B hears
// of it on the bus and lists it in its JWKS while both still sign with the
// old key; after the lead both sign with the new key and verify each
// other's tokens.
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
	oldKid := a.SignerID()
	rot, err := (&Rotator{Keyring: a, Period: time.Hour, Bus: bus}).RotateNow(context.Background(), TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !slices.Contains(jwksKids(t, b.JWKS()), rot.NewKeyID); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("b does not publish the next key: %v", jwksKids(t, b.JWKS()))
		}
	}
	for name, kr := range map[string]*Keyring{"a": a, "b": b} {
		if _, c := mustIssue(t, kr, clock.Now()); c.KeyID != oldKid {
			t.Fatalf("%s signs with %s before the lead is over", name, c.KeyID)
		}
	}
	clock.Set(rot.SignsFrom)
	ta, ca := mustIssue(t, a, clock.Now())
	tb, cb := mustIssue(t, b, clock.Now())
	if ca.KeyID != rot.NewKeyID || cb.KeyID != rot.NewKeyID || !verifies(a, tb, clock.Now()) || !verifies(b, ta, clock.Now()) {
		t.Fatalf("after the lead: a signs with %s, b with %s, want %s", ca.KeyID, cb.KeyID, rot.NewKeyID)
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
	rot, err := a.RotateImmediately(context.Background(), clock.Now())
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
	if _, err := r.RotateImmediately(ctx, TriggerManual); err != nil {
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
