package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func mustIssue(t testing.TB, kr *Keyring, now time.Time) (string, sm.AccessClaims) {
	t.Helper()
	tok, c, err := kr.Issue(context.Background(), "user-1", "sess-1", sm.AuthContext{}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func TestNewKeyringCreatesSealedKey(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	keys, _ := store.ListSigningKeys(context.Background())
	if len(keys) != 1 {
		t.Fatalf("store has %d keys, want 1", len(keys))
	}
	k := keys[0]
	if k.Algorithm != "EdDSA" || len(k.Public) != ed25519.PublicKeySize || !k.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("stored key: %+v", k)
	}
	if !k.RetiredAt.IsZero() || !k.ExpiresAt.IsZero() {
		t.Fatal("new key is not active")
	}
	seed := kr.keys.Load().signerAt(clock.Now()).private.Seed()
	if bytes.Contains(k.PrivateSealed, seed) {
		t.Fatal("private key stored in clear")
	}
	if _, err := mustSecrets(t, testKey(1)).Open(k.PrivateSealed, []byte("other-id")); err == nil {
		t.Fatal("sealed private key is not bound to its key id")
	}

	// A restart loads the same key instead of making another one.
	again := newTestKeyring(t, store, clock)
	if again.SignerID() != k.ID {
		t.Fatal("second keyring does not sign with the stored key")
	}
	if keys, _ := store.ListSigningKeys(context.Background()); len(keys) != 1 {
		t.Fatalf("store has %d keys after restart, want 1", len(keys))
	}
}

func TestNewKeyringWrongEncryptionKey(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	newTestKeyring(t, store, clock)
	_, err := NewKeyring(context.Background(), store, mustSecrets(t, testKey(9)), Config{
		Issuer: testIssuer, Audience: testAudience, Now: clock.Now,
	})
	if err == nil {
		t.Fatal("keyring opened a key sealed with another encryption key")
	}
}

func TestNewKeyringConfig(t *testing.T) {
	s := mustSecrets(t, testKey(1))
	for _, cfg := range []Config{{Audience: "a"}, {Issuer: "i"}} {
		if _, err := NewKeyring(context.Background(), &memKeyStore{}, s, cfg); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("config %+v: err = %v, want EINVALID", cfg, err)
		}
	}
	if _, err := NewKeyring(context.Background(), nil, s, Config{Issuer: "i", Audience: "a"}); sm.ErrorCode(err) != sm.EINVALID {
		t.Errorf("nil store: err = %v", err)
	}
}

func TestIssueVerify(t *testing.T) {
	clock := newClock()
	kr := newTestKeyring(t, &memKeyStore{}, clock)
	now := clock.Now().Add(1500 * time.Millisecond)
	// The auth context travels as auth_time (to the second, UTC), amr, acr.
	auth := sm.AuthContext{AuthTime: now.Add(-time.Minute).In(time.FixedZone("X", 3600)), AMR: []string{"pwd", "otp", "mfa"}, ACR: "2"}
	tok, issued, err := kr.Issue(context.Background(), "user-1", "sess-1", auth, "", now)
	if err != nil {
		t.Fatal(err)
	}
	want := sm.AccessClaims{
		Subject:     "user-1",
		SessionID:   "sess-1",
		KeyID:       kr.SignerID(),
		IssuedAt:    now.Truncate(time.Second),
		ExpiresAt:   now.Truncate(time.Second).Add(15 * time.Minute),
		AuthContext: sm.AuthContext{AuthTime: now.Add(-time.Minute).UTC().Truncate(time.Second), AMR: []string{"pwd", "otp", "mfa"}, ACR: "2"},
	}
	if !reflect.DeepEqual(issued, want) {
		t.Fatalf("Issue claims = %+v, want %+v", issued, want)
	}
	got, err := kr.Verify(tok, now)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
	}
	if _, _, err := kr.Issue(context.Background(), "", "sess", sm.AuthContext{}, "", now); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("Issue without subject: %v", err)
	}
	if _, _, err := kr.Issue(context.Background(), "user", "", sm.AuthContext{}, "", now); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("Issue without session: %v", err)
	}
	tok2, _ := mustIssue(t, kr, now)
	if tok2 == tok {
		t.Fatal("two tokens with the same claims are equal: jti missing")
	}
}

func TestVerifyCacheHonoursExpiry(t *testing.T) {
	clock := newClock()
	kr := newTestKeyring(t, &memKeyStore{}, clock)
	now := clock.Now()
	tok, c := mustIssue(t, kr, now)
	if _, err := kr.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	if n := kr.cache.len(); n != 1 {
		t.Fatalf("cache has %d entries after a valid token, want 1", n)
	}
	if _, err := kr.Verify(tok, c.ExpiresAt.Add(-time.Second)); err != nil {
		t.Fatalf("cached token before exp: %v", err)
	}
	if _, err := kr.Verify(tok, c.ExpiresAt); !isInvalidToken(err) {
		t.Fatalf("cached token at exp: err = %v, want invalid token", err)
	}
	if _, err := kr.Verify(tok+"x", now); !isInvalidToken(err) {
		t.Fatal("tampered token accepted")
	}
	if _, err := kr.Verify("garbage", now); !isInvalidToken(err) {
		t.Fatal("garbage accepted")
	}
	if n := kr.cache.len(); n != 1 {
		t.Fatalf("cache has %d entries after failures, want 1: failures are cached", n)
	}
}

func TestVerifyCacheIsBounded(t *testing.T) {
	clock := newClock()
	kr, err := NewKeyring(context.Background(), &memKeyStore{}, mustSecrets(t, testKey(1)), Config{
		Issuer: testIssuer, Audience: testAudience, Now: clock.Now, CacheSize: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	var first string
	for i := range 500 {
		tok, _ := mustIssue(t, kr, now)
		if i == 0 {
			first = tok
		}
		if _, err := kr.Verify(tok, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := kr.cache.len(); n > 64 {
		t.Fatalf("cache holds %d entries, bound is 64", n)
	}
	// An evicted token still verifies, the slow way.
	if _, err := kr.Verify(first, now); err != nil {
		t.Fatalf("evicted token: %v", err)
	}
}

func TestRotation(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	ctx := context.Background()
	oldKid, oldPriv := kr.SignerID(), kr.keys.Load().signerAt(clock.Now()).private
	oldTok, oldClaims := mustIssue(t, kr, clock.Now())

	rotatedAt := clock.Advance(5 * time.Minute)
	if _, err := kr.RotateImmediately(ctx, rotatedAt); err != nil {
		t.Fatal(err)
	}
	newKid := kr.SignerID()
	if newKid == oldKid {
		t.Fatal("Rotate did not change the signing key")
	}
	_, newClaims := mustIssue(t, kr, rotatedAt)
	if newClaims.KeyID != newKid {
		t.Fatal("new tokens are not signed with the new key")
	}
	keys, _ := store.ListSigningKeys(ctx)
	for _, k := range keys {
		// TTL plus the default grace, min(TTL, 1m).
		if k.ID == oldKid && (!k.RetiredAt.Equal(rotatedAt) || !k.ExpiresAt.Equal(rotatedAt.Add(16*time.Minute))) {
			t.Fatalf("old key not retired in the store: %+v", k)
		}
	}
	if kids := jwksKids(t, kr.JWKS()); len(kids) != 2 || kids[0] != newKid || kids[1] != oldKid {
		t.Fatalf("JWKS kids after rotation = %v, want [new old]", kids)
	}

	// Old token verifies until its own exp (uncached: a fresh keyring).
	fresh := newTestKeyring(t, store, clock)
	if _, err := fresh.Verify(oldTok, oldClaims.ExpiresAt.Add(-time.Second)); err != nil {
		t.Fatalf("old token before its exp: %v", err)
	}
	if _, err := fresh.Verify(oldTok, oldClaims.ExpiresAt); !isInvalidToken(err) {
		t.Fatalf("old token at its exp: %v", err)
	}

	// A token of the retired key outliving the key (forged exp) fails.
	long := signEdDSA(t, oldPriv, oldKid, validClaims(rotatedAt.Add(time.Hour)))
	if _, err := fresh.Verify(long, rotatedAt.Add(16*time.Minute-time.Second)); err != nil {
		t.Fatalf("retired key within its grace: %v", err)
	}
	if _, err := fresh.Verify(long, rotatedAt.Add(16*time.Minute)); !isInvalidToken(err) {
		t.Fatalf("token of an expired key: %v", err)
	}

	// After the old key expires only the new one is published.
	clock.Advance(16 * time.Minute)
	if kids := jwksKids(t, kr.JWKS()); len(kids) != 1 || kids[0] != newKid {
		t.Fatalf("JWKS kids after expiry = %v, want [new]", kids)
	}
	if newTok, _ := mustIssue(t, kr, clock.Now()); !verifies(kr, newTok, clock.Now()) {
		t.Fatal("new key's token does not verify after the old key expired")
	}
	if err := kr.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := kr.keys.Load().verifiers[oldKid]; ok {
		t.Fatal("expired key still loaded after reload")
	}
}

func TestSecondKeyringReloadsOnUnknownKid(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	a := newTestKeyring(t, store, clock)
	b := newTestKeyring(t, store, clock)
	ctx := context.Background()
	tok, _ := mustIssue(t, a, clock.Now())
	if _, err := b.Verify(tok, clock.Now()); err != nil {
		t.Fatalf("b verifies a's token: %v", err)
	}

	if _, err := a.RotateImmediately(ctx, clock.Now()); err != nil {
		t.Fatal(err)
	}
	rotated, _ := mustIssue(t, a, clock.Now())
	before := store.listCalls()
	if _, err := b.Verify(rotated, clock.Now()); err != nil {
		t.Fatalf("b verifies a token of a's rotated key: %v", err)
	}
	if store.listCalls() != before+1 {
		t.Fatalf("unknown kid caused %d reloads, want 1", store.listCalls()-before)
	}

	// Within the same second, unknown kids do not reach the store again.
	if _, err := a.RotateImmediately(ctx, clock.Now()); err != nil {
		t.Fatal(err)
	}
	again, _ := mustIssue(t, a, clock.Now())
	before = store.listCalls()
	for range 20 {
		if _, err := b.Verify(again, clock.Now()); !isInvalidToken(err) {
			t.Fatalf("rate-limited reload: err = %v, want invalid token", err)
		}
	}
	if store.listCalls() != before {
		t.Fatalf("%d store reads within one second, want 0", store.listCalls()-before)
	}
	clock.Advance(time.Second)
	if _, err := b.Verify(again, clock.Now()); err != nil {
		t.Fatalf("after a second the kid is reloaded: %v", err)
	}
}

func TestServeJWKS(t *testing.T) {
	kr := newTestKeyring(t, &memKeyStore{}, newClock())
	rec := httptest.NewRecorder()
	kr.ServeJWKS().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Fatalf("Cache-Control = %q", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type = %q", got)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	k := set.Keys[0]
	for field, want := range map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kr.SignerID()} {
		if k[field] != want {
			t.Errorf("jwk %s = %q, want %q", field, k[field], want)
		}
	}
	if _, private := k["d"]; private {
		t.Fatal("JWKS publishes the private key")
	}
	rec = httptest.NewRecorder()
	kr.ServeJWKS().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST status %d", rec.Code)
	}
}

func jwksKids(t *testing.T, body []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	return kids
}

func verifies(kr *Keyring, tok string, now time.Time) bool {
	_, err := kr.Verify(tok, now)
	return err == nil
}

func TestWithdrawnKeyDropsCachedTokens(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	ctx, now := context.Background(), clock.Now()
	oldTok, oldClaims := mustIssue(t, kr, now)
	if _, err := kr.Verify(oldTok, now); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.RotateImmediately(ctx, now); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(oldTok, now); err != nil {
		t.Fatalf("retired key's token after a normal rotation: %v", err)
	}
	// An operator withdraws the old key at once (it leaked).
	if err := store.UpdateSigningKey(ctx, oldClaims.KeyID, now, now); err != nil {
		t.Fatal(err)
	}
	if err := kr.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(oldTok, now); !isInvalidToken(err) {
		t.Fatalf("cached token of a withdrawn key: err = %v", err)
	}
	newTok, _ := mustIssue(t, kr, now)
	if !verifies(kr, newTok, now) {
		t.Fatal("new key stopped verifying")
	}
}

func TestPlantedKeyIsRefused(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(t, store, clock)
	ctx := context.Background()
	// Someone with write access to the store but not the encryption key
	// adds a key of their own.
	public, private, _ := ed25519.GenerateKey(nil)
	kid := thumbprint(public)
	sealed, _ := mustSecrets(t, testKey(66)).Seal(private.Seed(), []byte(kid))
	if err := store.CreateSigningKey(ctx, &sm.SigningKey{ID: kid, Algorithm: "EdDSA", PrivateSealed: sealed, Public: public, CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	forged := signEdDSA(t, private, kid, validClaims(clock.Now().Add(time.Minute)))
	clock.Advance(2 * time.Second) // past the reload limit
	if _, err := kr.Verify(forged, clock.Now()); !isInvalidToken(err) {
		t.Fatalf("token of a planted key: err = %v", err)
	}
	if err := kr.Reload(ctx); err == nil {
		t.Fatal("Reload accepted a key it cannot open")
	}
	if _, err := kr.Verify(forged, clock.Now()); !isInvalidToken(err) {
		t.Fatal("planted key trusted after a failed reload")
	}
	tok, _ := mustIssue(t, kr, clock.Now())
	if !verifies(kr, tok, clock.Now()) {
		t.Fatal("a failed reload broke the current keys")
	}
}

func TestMismatchedKeyIDIsRefused(t *testing.T) {
	store, clock := &memKeyStore{}, newClock()
	secrets := mustSecrets(t, testKey(1))
	public, private, _ := ed25519.GenerateKey(nil)
	sealed, _ := secrets.Seal(private.Seed(), []byte("my-kid"))
	store.CreateSigningKey(context.Background(), &sm.SigningKey{ID: "my-kid", Algorithm: "EdDSA", PrivateSealed: sealed, Public: public, CreatedAt: clock.Now()})
	if _, err := NewKeyring(context.Background(), store, secrets, Config{Issuer: testIssuer, Audience: testAudience, Now: clock.Now}); err == nil {
		t.Fatal("key whose id is not its thumbprint accepted")
	}
}
