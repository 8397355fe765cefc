package token

import (
	"context"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// cachedToken returns a keyring and a token it has verified (and cached).
func cachedToken(b *testing.B) (*Keyring, string, time.Time) {
	clock := newClock()
	kr := newTestKeyring(b, &memKeyStore{}, clock)
	now := clock.Now()
	tok, _ := mustIssue(b, kr, now)
	if _, err := kr.Verify(tok, now); err != nil {
		b.Fatal(err)
	}
	return kr, tok, now
}

func BenchmarkVerifyCached(b *testing.B) {
	kr, tok, now := cachedToken(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	kr, tok, now := cachedToken(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := kr.Verify(tok, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyUncached(b *testing.B) {
	clock := newClock()
	kr := newTestKeyring(b, &memKeyStore{}, clock)
	now := clock.Now()
	tok, _ := mustIssue(b, kr, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
		kr.cache.drop(tok) // the cost of put stays in; the next Verify misses
	}
}

func BenchmarkIssue(b *testing.B) {
	clock := newClock()
	kr := newTestKeyring(b, &memKeyStore{}, clock)
	ctx, now := context.Background(), clock.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := kr.Issue(ctx, "user-1", "sess-1", sm.AuthContext{}, "", now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupHash(b *testing.B) {
	s := mustSecrets(b, testKey(1))
	tok, _, _ := s.NewToken()
	b.ReportAllocs()
	for b.Loop() {
		s.LookupHash(tok)
	}
}

func BenchmarkSeal(b *testing.B) {
	s := mustSecrets(b, testKey(1))
	plain, aad := make([]byte, 43), []byte("session-id")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(plain, aad); err != nil {
			b.Fatal(err)
		}
	}
}
