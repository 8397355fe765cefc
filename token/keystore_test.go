package token

import (
	"context"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"slices"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// memKeyStore is an in-memory sessionmanager.KeyStore for these tests; the
// SQL stores run their own conformance suite.
type memKeyStore struct {
	mu    sync.Mutex
	keys  []sm.SigningKey
	lists int // ListSigningKeys calls
}

func (s *memKeyStore) CreateSigningKey(_ context.Context, k *sm.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have.ID == k.ID {
			return sm.Errorf(sm.ECONFLICT, "key exists")
		}
	}
	c := *k
	c.PrivateSealed = slices.Clone(k.PrivateSealed)
	c.Public = slices.Clone(k.Public)
	s.keys = append(s.keys, c)
	return nil
}

func (s *memKeyStore) ListSigningKeys(context.Context) ([]*sm.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	out := make([]*sm.SigningKey, len(s.keys))
	for i, k := range s.keys {
		c := k
		c.PrivateSealed = slices.Clone(k.PrivateSealed)
		c.Public = slices.Clone(k.Public)
		out[i] = &c
	}
	return out, nil
}

func (s *memKeyStore) UpdateSigningKey(_ context.Context, id string, retiredAt, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i].ID == id {
			s.keys[i].RetiredAt, s.keys[i].ExpiresAt = retiredAt, expiresAt
			return nil
		}
	}
	return sm.Errorf(sm.ENOTFOUND, "no key %s", id)
}

func (s *memKeyStore) listCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://app.example.com"
)

func newTestKeyring(t testing.TB, store sm.KeyStore, clock *testenv.Clock) *Keyring {
	t.Helper()
	kr, err := NewKeyring(context.Background(), store, mustSecrets(t, testKey(1)), Config{
		Issuer: testIssuer, Audience: testAudience, TTL: 15 * time.Minute, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func newClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}
