package license_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	sm "github.com/magic-sessionmanager/sessionmanager"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
)

// t0 is the tests' "now".
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newClock() *sm.ManualClock { return sm.NewManualClock(t0) }

// vendor is a test vendor key pair.
type vendor struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newVendor() vendor {
	pub, priv := license.GenerateVendorKey()
	return vendor{pub, priv}
}

// issue signs a licence of edition valid from iat to exp.
func (v vendor) issue(t testing.TB, ed license.Edition, iat, exp time.Time) string {
	t.Helper()
	key, err := license.Issue(v.priv, license.Licence{Licensee: "Acme GmbH", Edition: ed, Seats: 50, IssuedAt: iat, ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// logBuffer captures a State's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) Reset() {
	l.mu.Lock()
	l.buf.Reset()
	l.mu.Unlock()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// openStore opens a real SQLite store in a temp dir.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newState returns a State trusting v, on clock c, with opts applied.
func newState(t testing.TB, v vendor, c *sm.ManualClock, opts ...func(*license.Options)) (*license.State, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	o := license.Options{PublicKey: v.pub, Now: c.Now, Logger: logs.logger()}
	for _, f := range opts {
		f(&o)
	}
	s, err := license.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// loadWithEnvKey sets SM_LICENSE_PUBLIC_KEY to a self-made vendor key and
// loads a State with no explicit public key and a key signed by it.
func loadWithEnvKey(t *testing.T) (*license.State, license.Info) {
	t.Helper()
	v := newVendor()
	t.Setenv(license.PublicKeyEnv, license.EncodePublicKey(v.pub))
	s, err := license.New(license.Options{Logger: quietLogger(), Key: v.issue(t, license.EditionAdvanced, t0, t0.AddDate(50, 0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, info
}
