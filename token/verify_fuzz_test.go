package token

import (
	sm "github.com/magic-sessionmanager/sessionmanager"

	"context"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds any string to Keyring.Verify, at the issue time and
// later: never a panic, and nothing is accepted but a token this keyring
// issued, byte for byte (a re-encoded header, a flipped bit, alg none, a
// foreign key, a stripped signature: all refused). Rejections are the one
// EUNAUTHORIZED error.
func FuzzVerify(f *testing.F) {
	store, clock := &memKeyStore{}, newClock()
	kr := newTestKeyring(f, store, clock)
	issued := map[string]bool{}
	now := clock.Now()
	for _, sid := range []string{"sess-1", "sess-2"} {
		tok, _, err := kr.Issue(context.Background(), "user-1", sid, sm.AuthContext{}, "", now)
		if err != nil {
			f.Fatal(err)
		}
		issued[tok] = true
		parts := strings.Split(tok, ".")
		f.Add(tok, int64(0))
		f.Add(tok+"x", int64(0))
		f.Add(flipChar(tok), int64(0))
		f.Add(parts[0]+"."+parts[1]+".", int64(0))
		f.Add(parts[0]+"."+parts[1], int64(0))
		f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0."+parts[1]+".", int64(0))
		f.Add(tok, int64(16*time.Minute))
		f.Add(strings.ToUpper(tok), int64(0))
	}
	f.Add("", int64(0))
	f.Add("a.b.c", int64(0))
	f.Add(strings.Repeat("A", maxTokenLen+1), int64(0))
	f.Fuzz(func(t *testing.T, tok string, later int64) {
		at := now.Add(time.Duration(later))
		c, err := kr.Verify(tok, at)
		if err != nil {
			if !isInvalidToken(err) {
				t.Fatalf("Verify(%q): error %v, want the invalid-token error", tok, err)
			}
			return
		}
		if !issued[tok] {
			t.Fatalf("Verify accepted a token it never issued: %q -> %+v", tok, c)
		}
		if !at.Before(c.ExpiresAt) {
			t.Fatalf("Verify accepted %q at %v, after its expiry %v", tok, at, c.ExpiresAt)
		}
	})
}
