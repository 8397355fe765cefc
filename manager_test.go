package sessionmanager_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// countingSink counts store writes of last-seen notes, then writes them.
type countingSink struct {
	st     sm.SessionStore
	writes atomic.Int64
}

func (c *countingSink) WriteLastSeen(ctx context.Context, notes []sm.LastSeen) error {
	c.writes.Add(int64(len(notes)))
	return c.st.TouchSessions(ctx, notes)
}

type env struct {
	t       testing.TB
	ctx     context.Context
	store   storetest.Store
	clock   *sm.ManualClock
	m       *sm.Manager
	secrets *token.Secrets
	keys    *token.Keyring
	sink    *countingSink
	path    string // SQLite file, "" on Postgres
}

// cheapPasswords keeps tests fast; production parameters are benchmarked.
var cheapPasswords = password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})

type storeKind struct {
	name string
	open func(t testing.TB) (storetest.Store, string)
}

var storeKinds = []storeKind{
	{"sqlite", func(t testing.TB) (storetest.Store, string) {
		p := filepath.Join(t.TempDir(), "sm.db")
		st, err := sqlite.Open(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, p
	}},
	{"postgres", func(t testing.TB) (storetest.Store, string) {
		st, err := postgres.Open(context.Background(), testenv.PostgresSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, ""
	}},
}

// eachStore runs fn against a fresh Manager on every store.
func eachStore(t *testing.T, fn func(t *testing.T, e *env), opts ...func(*sm.Config)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			fn(t, newEnv(t, k, opts...))
		})
	}
}

func newEnv(t testing.TB, k storeKind, opts ...func(*sm.Config)) *env {
	ctx := context.Background()
	st, path := k.open(t)
	clock := sm.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	sec, keys := newKeys(t, st, clock, 7)
	sink := &countingSink{st: st}
	cfg := sm.Config{Store: st, Tokens: keys, Secrets: sec, Passwords: cheapPasswords, UserAgents: device.New(),
		Clock: clock, Activity: sink, InstanceID: "test"}
	m := startManager(t, cfg, opts)
	return &env{t: t, ctx: ctx, store: st, clock: clock, m: m, secrets: sec, keys: keys, sink: sink, path: path}
}

// startManager applies opts to cfg and returns its Manager, closed at the
// test's end.
func startManager(t testing.TB, cfg sm.Config, opts []func(*sm.Config)) *sm.Manager {
	t.Helper()
	for _, o := range opts {
		o(&cfg)
	}
	m, err := sm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// newKeys returns the secrets (from seed) and a keyring over st.
func newKeys(t testing.TB, st storetest.Store, clock *sm.ManualClock, seed byte) (*token.Secrets, *token.Keyring) {
	t.Helper()
	sec, err := token.NewSecrets(make32(seed))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeyring(context.Background(), st, sec, token.Config{Issuer: "test", Audience: "test", TTL: 15 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return sec, keys
}

func make32(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

var client = sm.ClientInfo{IP: mustAddr("203.0.113.7"), UserAgent: chromeUA}

func (e *env) register(name string) *sm.LoginResult {
	e.t.Helper()
	res, err := e.m.Register(e.ctx, sm.RegisterInput{Username: name, Email: name + "@example.com", Password: "a long enough password"}, client)
	if err != nil {
		e.t.Fatalf("register %s: %v", name, err)
	}
	return res
}

func (e *env) login(name string) *sm.LoginResult {
	e.t.Helper()
	res, err := e.m.Login(e.ctx, name, "a long enough password", client)
	if err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	return res
}

// reasonOf returns the end reason of a 401, or fails.
func reasonOf(t testing.TB, err error) string {
	t.Helper()
	if sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("want 401 unauthorized, got %v", err)
	}
	return err.(*sm.Error).Reason
}
