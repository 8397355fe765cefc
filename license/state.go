package license

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// SettingsKey is the settings-store key that holds the active licence key.
const SettingsKey = "license.key"

// DefaultCheckInterval is how often Run re-reads and re-verifies the key.
const DefaultCheckInterval = 24 * time.Hour

// WarnBefore is how long before expiry Run starts warning.
const WarnBefore = 14 * 24 * time.Hour

// Options configure a State. Every field is optional.
type Options struct {
	// PublicKey is the vendor key trusted; nil = the built-in key (or, in a
	// -tags licensetest build only, SM_LICENSE_PUBLIC_KEY).
	PublicKey ed25519.PublicKey
	// Key is a key from the deployment (LICENSE_KEY); it competes with the
	// stored key, and the better of the two wins (see Load).
	Key string
	// Store keeps the key set through the admin API under SettingsKey.
	Store sm.SettingsStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger gets activation, expiry warnings and errors (default slog.Default()).
	Logger *slog.Logger
	// Demo unlocks every feature, for a demo on demo data.
	Demo bool
	// CheckInterval is how often Run re-verifies (default 24h).
	CheckInterval time.Duration
}

// snapshot is one immutable licence state; Allows reads it with one load.
type snapshot struct {
	lic    *Licence // nil: no licence in force
	mask   featureBit
	expiry time.Time
	status Status // StatusNone, StatusInvalid or StatusActive (expiry is time's)
	reason string // why a key is invalid
	source string // "LICENSE_KEY", "store", "admin"
	demo   bool
}

// State holds the licence in force and answers the feature gate.
type State struct {
	opts     Options
	verifier *Verifier
	now      func() time.Time
	log      *slog.Logger
	cur      atomic.Pointer[snapshot]
	mu       sync.Mutex // serialises Load and Set
}

// New returns a State running as Free (or Demo) until Load or Set.
func New(opts Options) (*State, error) {
	pub := opts.PublicKey
	if pub == nil {
		var err error
		if pub, err = defaultPublicKey(); err != nil {
			return nil, err
		}
	}
	v, err := NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = DefaultCheckInterval
	}
	s := &State{opts: opts, verifier: v, now: opts.Now, log: opts.Logger}
	s.cur.Store(&snapshot{status: StatusNone, demo: opts.Demo})
	return s, nil
}

// Allows is THE feature gate (sessionmanager.Config.Allows). Free features
// always pass; a paid feature passes while a licence of an edition that
// includes it is in force and unexpired. It is one atomic load, a clock
// read for paid features and no allocation.
func (s *State) Allows(feature string) bool {
	cur := s.cur.Load()
	if cur.demo {
		return true
	}
	bit, free := lookupFeature(feature)
	if free {
		return true
	}
	return cur.mask&bit != 0 && s.now().Before(cur.expiry)
}

// storedKey is the settings document under SettingsKey.
type storedKey struct {
	Key   string    `json:"key"`
	SetAt time.Time `json:"setAt"`
}

// Load reads the deployment key (Options.Key) and the stored key, and puts
// the better one in force: an unexpired genuine key beats an expired one,
// and between two the later expiry wins (so a key renewed in the dashboard
// is not undone by an old LICENSE_KEY at the next restart). A bad key is
// not an error: the product runs as Free and Info says why. The error is
// for a store that cannot be read.
func (s *State) Load(ctx context.Context) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var candidates []*snapshot
	if s.opts.Key != "" {
		candidates = append(candidates, s.verify(s.opts.Key, "LICENSE_KEY"))
	}
	if s.opts.Store != nil {
		b, err := s.opts.Store.GetSetting(ctx, SettingsKey)
		switch {
		case sm.IsNotFound(err):
		case err != nil:
			return s.Info(), err
		default:
			var doc storedKey
			if err := json.Unmarshal(b, &doc); err != nil || doc.Key == "" {
				candidates = append(candidates, &snapshot{status: StatusInvalid, reason: "the stored licence document is unreadable", source: "store"})
			} else {
				candidates = append(candidates, s.verify(doc.Key, "store"))
			}
		}
	}
	next := &snapshot{status: StatusNone}
	for _, c := range candidates {
		if better(c, next, s.now()) {
			next = c
		}
	}
	next.demo = s.opts.Demo
	s.install(next)
	return s.Info(), nil
}

// better reports whether candidate a should replace b.
func better(a, b *snapshot, now time.Time) bool {
	rank := func(x *snapshot) int {
		switch {
		case x.status == StatusActive && now.Before(x.expiry):
			return 3
		case x.status == StatusActive:
			return 2 // genuine but expired
		case x.status == StatusInvalid:
			return 1
		}
		return 0
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra > rb
	}
	return ra >= 2 && a.expiry.After(b.expiry)
}

// verify turns a key into a snapshot (active or invalid).
func (s *State) verify(key, source string) *snapshot {
	lic, err := s.verifier.Verify(key)
	if err != nil {
		return &snapshot{status: StatusInvalid, reason: sm.ErrorMessage(err), source: source}
	}
	return &snapshot{lic: &lic, mask: lic.Edition.mask(), expiry: lic.ExpiresAt, status: StatusActive, source: source}
}

// Set verifies key and, when it is genuine and unexpired, stores it and
// puts it in force at once (the admin API and the dashboard call it). A
// rejected key changes nothing; the error says why (EINVALID).
func (s *State) Set(ctx context.Context, key string) (Info, error) {
	next := s.verify(key, "admin")
	if next.status != StatusActive {
		e := sm.Errorf(sm.EINVALID, "%s", next.reason)
		e.Reason = "license_invalid"
		e.Fields = map[string]string{"key": next.reason}
		return s.Info(), e
	}
	if !s.now().Before(next.expiry) {
		msg := "this licence key expired on " + next.expiry.Format(time.DateOnly)
		return s.Info(), &sm.Error{Code: sm.EINVALID, Message: msg, Reason: "license_expired", Fields: map[string]string{"key": msg}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Store != nil {
		doc, _ := json.Marshal(storedKey{Key: normalizeKey(key), SetAt: s.now().UTC()})
		if err := s.opts.Store.PutSetting(ctx, SettingsKey, doc); err != nil {
			return s.Info(), err
		}
	}
	next.demo = s.opts.Demo
	s.install(next)
	return s.Info(), nil
}

// logInfo logs the licence state: an error when it is expired or invalid,
// a warning in the last WarnBefore before expiry.
func (s *State) logInfo(info Info) {
	attrs := logAttrs(info)
	switch {
	case info.Status == StatusExpired || info.Status == StatusInvalid:
		s.log.Error("licence: "+info.Notice, attrs...)
	case info.Warning:
		s.log.Warn("licence: "+info.Notice, attrs...)
	default:
		s.log.Info("licence: "+info.Notice, attrs...)
	}
}

// install puts next in force and logs it.
func (s *State) install(next *snapshot) {
	s.cur.Store(next)
	s.logInfo(s.Info())
}
