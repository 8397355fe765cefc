package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// keyServer publishes a JWKS whose keys the test rotates, and counts fetches.
// It stands in for the server's JWKS to test the cache rules; the real
// server is exercised in cmd/sessionmanager/client_test.go.
type keyServer struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey
	header  http.Header // added to every response
	fetches atomic.Int64
	srv     *httptest.Server
}

func newKeyServer(t testing.TB) *keyServer {
	k := &keyServer{keys: map[string]ed25519.PrivateKey{}}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fetches.Add(1)
		k.mu.Lock()
		defer k.mu.Unlock()
		for name, v := range k.header {
			w.Header()[name] = v
		}
		var set jose.JSONWebKeySet
		for kid, priv := range k.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: "EdDSA", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// remove stops publishing kid (the server withdrew it).
func (k *keyServer) remove(kid string) {
	k.mu.Lock()
	delete(k.keys, kid)
	k.mu.Unlock()
}

func (k *keyServer) add(kid string) ed25519.PrivateKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k.mu.Lock()
	k.keys[kid] = priv
	k.mu.Unlock()
	return priv
}

type tokenSpec struct {
	kid, typ, iss, aud, sid string
	exp                     time.Duration
	alg                     jose.SignatureAlgorithm
	noExp                   bool
}

func sign(t testing.TB, priv any, s tokenSpec) string {
	t.Helper()
	if s.alg == "" {
		s.alg = jose.EdDSA
	}
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), s.kid).WithType(jose.ContentType(s.typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := jwt.Claims{Subject: "user-1", Issuer: s.iss, Audience: jwt.Audience{s.aud}, IssuedAt: jwt.NewNumericDate(now)}
	if !s.noExp {
		c.Expiry = jwt.NewNumericDate(now.Add(s.exp))
	}
	tok, err := jwt.Signed(signer).Claims(c).Claims(map[string]any{"sid": s.sid}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func good(kid string) tokenSpec {
	return tokenSpec{kid: kid, typ: "at+jwt", iss: "sessionmanager", aud: "sessionmanager", sid: "sess-1", exp: 5 * time.Minute}
}

func TestVerifyChecks(t *testing.T) {
	ks := newKeyServer(t)
	priv := ks.add("k1")
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	c, err := New(Config{BaseURL: ks.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"valid", sign(t, priv, good("k1")), true},
		{"wrong typ", sign(t, priv, func() tokenSpec { s := good("k1"); s.typ = "JWT"; return s }()), false},
		{"wrong issuer", sign(t, priv, func() tokenSpec { s := good("k1"); s.iss = "other"; return s }()), false},
		{"wrong audience", sign(t, priv, func() tokenSpec { s := good("k1"); s.aud = "other"; return s }()), false},
		{"expired", sign(t, priv, func() tokenSpec { s := good("k1"); s.exp = -time.Hour; return s }()), false},
		{"no exp", sign(t, priv, func() tokenSpec { s := good("k1"); s.noExp = true; return s }()), false},
		{"no sid", sign(t, priv, func() tokenSpec { s := good("k1"); s.sid = ""; return s }()), false},
		{"other key, known kid", sign(t, stranger, good("k1")), false},
		{"HS256 with the public key as secret", sign(t, []byte(priv.Public().(ed25519.PublicKey)), func() tokenSpec { s := good("k1"); s.alg = jose.HS256; return s }()), false},
		{"garbage", "not.a.jwt", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := c.Verify(context.Background(), tc.tok)
			if tc.ok {
				if err != nil || claims.SessionID != "sess-1" || claims.Subject != "user-1" || claims.KeyID != "k1" {
					t.Fatalf("want valid, got %v %+v", err, claims)
				}
				return
			}
			if sm.ErrorCode(err) != sm.EUNAUTHORIZED {
				t.Fatalf("want EUNAUTHORIZED, got %v", err)
			}
		})
	}
}

func TestKeyRotationAndRefetchLimit(t *testing.T) {
	ks := newKeyServer(t)
	priv1 := ks.add("k1")
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	c, _ := New(Config{BaseURL: ks.srv.URL, JWKSMinRefetch: time.Minute, Now: now})
	if _, err := c.Verify(context.Background(), sign(t, priv1, good("k1"))); err != nil {
		t.Fatal(err)
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after the first verify", n)
	}
	// Known keys are served from the cache.
	for range 10 {
		if _, err := c.Verify(context.Background(), sign(t, priv1, good("k1"))); err != nil {
			t.Fatal(err)
		}
	}
	// A forged kid flood costs at most one fetch per JWKSMinRefetch.
	flood := func() {
		for i := range 20 {
			tok := sign(t, priv1, good("forged-"+strings.Repeat("x", i)))
			if _, err := c.Verify(context.Background(), tok); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
				t.Fatalf("forged kid: %v", err)
			}
		}
	}
	flood()
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after a forged-kid flood inside the refetch interval, want 1", n)
	}
	clock.Add(int64(2 * time.Minute))
	flood()
	if n := ks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a flood past the refetch interval, want 2", n)
	}

	// A rotated key is fetched when its kid first appears.
	ks2 := newKeyServer(t)
	old := ks2.add("k1")
	c2, _ := New(Config{BaseURL: ks2.srv.URL, JWKSMinRefetch: time.Nanosecond})
	if _, err := c2.Verify(context.Background(), sign(t, old, good("k1"))); err != nil {
		t.Fatal(err)
	}
	next := ks2.add("k2")
	if _, err := c2.Verify(context.Background(), sign(t, next, good("k2"))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
}

// fakeNow is a clock the test moves.
func fakeNow() (now func() time.Time, advance func(time.Duration)) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	return func() time.Time { return time.Unix(0, clock.Load()) }, func(d time.Duration) { clock.Add(int64(d)) }
}

// A key the server withdraws is refused, cached tokens of it included, once
// the JWKS that listed it is stale: the server's max-age (60s here), not
// the client's longer JWKSMaxAge.
func TestWithdrawnKeyRefusedAfterTheServersMaxAge(t *testing.T) {
	ks := newKeyServer(t)
	ks.header = http.Header{"Cache-Control": {"public, max-age=60"}}
	leaked, kept := ks.add("k1"), ks.add("k2")
	now, advance := fakeNow()
	c, _ := New(Config{BaseURL: ks.srv.URL, JWKSMaxAge: 10 * time.Minute, Now: now})
	ctx := context.Background()
	leakedTok, keptTok := sign(t, leaked, good("k1")), sign(t, kept, good("k2"))
	for _, tok := range []string{leakedTok, keptTok} {
		if _, err := c.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	ks.remove("k1")
	advance(59 * time.Second)
	if _, err := c.Verify(ctx, leakedTok); err != nil || ks.fetches.Load() != 1 {
		t.Fatalf("within the max-age: %v, %d fetches (want the cached set, 1)", err, ks.fetches.Load())
	}
	advance(2 * time.Second)
	if _, err := c.Verify(ctx, leakedTok); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("a cached token of a withdrawn key past the max-age: %v", err)
	}
	if _, err := c.Verify(ctx, sign(t, leaked, good("k1"))); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("a new token of a withdrawn key: %v", err)
	}
	if _, err := c.Verify(ctx, keptTok); err != nil {
		t.Fatalf("a token of a key still published: %v", err)
	}
	if n := ks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestJWKSFreshness(t *testing.T) {
	unbounded := time.Duration(1<<63 - 1)
	for _, tc := range []struct {
		cc, age string
		want    time.Duration
	}{
		{"", "", unbounded},
		{"public, max-age=300", "", 5 * time.Minute},
		{"public, max-age=300", "120", 3 * time.Minute},
		{"max-age=300", "400", 0},
		{"no-cache", "", 0},
		{"max-age=-1", "", 0},
		{"public", "30", unbounded},
	} {
		h := http.Header{}
		if tc.cc != "" {
			h.Set("Cache-Control", tc.cc)
		}
		if tc.age != "" {
			h.Set("Age", tc.age)
		}
		if got := freshness(h); got != tc.want {
			t.Errorf("Cache-Control %q Age %q: fresh for %v, want %v", tc.cc, tc.age, got, tc.want)
		}
	}
}

func TestFeedParsingMarksSessionsRevoked(t *testing.T) {
	ks := newKeyServer(t)
	priv := ks.add("k1")
	var lastEventID atomic.Value
	lastEventID.Store("")
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer msm_service" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		lastEventID.Store(r.Header.Get("Last-Event-ID"))
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(": heartbeat\n\nid: 7\nevent: revoked\ndata: {\"sid\":\"sess-1\",\"sub\":\"user-1\",\"reason\":\"manual\"}\n\n"))
		w.(http.Flusher).Flush()
		// End the stream: the client reconnects with Last-Event-ID.
	}))
	defer feed.Close()
	mux := http.NewServeMux()
	mux.Handle("/.well-known/jwks.json", ks.srv.Config.Handler)
	mux.Handle("/api/auth/revocations", feed.Config.Handler)
	both := httptest.NewServer(mux)
	defer both.Close()
	c, _ := New(Config{BaseURL: both.URL, ServiceToken: "msm_service"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for lastEventID.Load() != "7" {
		if time.Now().After(deadline) {
			t.Fatal("the client did not resume with Last-Event-ID 7")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := c.Verify(ctx, sign(t, priv, good("k1")))
	var e *sm.Error
	if sm.ErrorCode(err) != sm.EUNAUTHORIZED || !asError(err, &e) || e.Reason != "manual" {
		t.Fatalf("revoked session: %v", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, priv, good("k1")))
	c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran") })).ServeHTTP(rec, req)
	if rec.Code != 401 || rec.Header().Get(sm.HeaderTerminatedReason) != "manual" {
		t.Fatalf("middleware: %d %q", rec.Code, rec.Header().Get(sm.HeaderTerminatedReason))
	}
}

func asError(err error, e **sm.Error) bool {
	x, ok := err.(*sm.Error)
	*e = x
	return ok
}

func TestCachedTokenStillExpires(t *testing.T) {
	ks := newKeyServer(t)
	priv := ks.add("k1")
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c, _ := New(Config{BaseURL: ks.srv.URL, Leeway: time.Second, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	tok := sign(t, priv, good("k1")) // expires in 5 minutes
	if _, err := c.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(5*time.Minute + 2*time.Second))
	if _, err := c.Verify(context.Background(), tok); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("a cached token after its expiry: %v", err)
	}
}
