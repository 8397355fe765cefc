package alert

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
)

// gcmSealer is a real AES-256-GCM sealer for tests (the token package's
// Secrets does the same with key ids).
type gcmSealer struct{ aead cipher.AEAD }

func newSealer(t testing.TB) *gcmSealer {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &gcmSealer{aead: aead}
}

func (s *gcmSealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

func (s *gcmSealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// openStore opens a real SQLite store in a temp dir.
func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "sm.db")
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testPolicy lets tests reach their loopback receivers.
var testPolicy = TargetPolicy{AllowHTTPLoopback: true, AllowPrivateTargets: true}

func newRules(t testing.TB, st sm.SettingsStore, sealer Sealer) *Rules {
	t.Helper()
	r, err := NewRules(context.Background(), RulesConfig{Store: st, Sealer: sealer, Targets: testPolicy})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var testAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// loginInput is a successful login from Berlin over a VPN with a new country.
func loginInput() sm.AlertInput {
	return sm.AlertInput{
		Event: &sm.Event{Type: sm.EventLoginSucceeded, At: testAt, UserID: "u1", SessionID: "s1", IP: "203.0.113.9"},
		User:  &sm.User{ID: "u1", Email: "jane@example.com", Username: "jane"},
		Session: &sm.Session{ID: "s1", UserID: "u1", AuthMethod: sm.AuthPassword, IP: netip.MustParseAddr("203.0.113.9"),
			Device: sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"}},
		Location:   sm.Location{CountryCode: "DE", CountryName: "Germany", City: "Berlin", Latitude: 52.52, Longitude: 13.4, ASN: 64500, ISP: "Example ISP"},
		Threat:     sm.Threat{VPN: true},
		Device:     sm.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"},
		Assessment: &sm.Assessment{Score: 55, Reasons: []sm.RiskReason{{Code: sm.ReasonVPN, Weight: 15}, {Code: sm.ReasonNewCountry, Weight: 30, Detail: "first sign-in from Germany"}}, Action: sm.ActionAlert},
		Previous: &sm.Session{ID: "s0", IP: netip.MustParseAddr("198.51.100.1"), CreatedAt: testAt.Add(-time.Hour),
			Location: sm.Location{CountryCode: "FR", CountryName: "France", City: "Paris"}},
	}
}
