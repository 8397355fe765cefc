package storetest

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// challengeTests check the pending login challenges (ChallengeStore) and
// how a session records its proof (AuthContext, SessionAuthStore).
var challengeTests = []namedTest{
	{"RoundTrip", testChallengeRoundTrip},
	{"ReserveCountsAndRefuses", testChallengeReserve},
	{"EndOnceAndUpdatesOnlyWhileOpen", testChallengeEnd},
	{"ReserveRaceKeepsTheLimit", testConcurrentChallengeReserve},
	{"EndRaceExactlyOneWins", testConcurrentChallengeEnd},
	{"PurgeAndErase", testChallengePurgeErase},
	{"SessionAuthContext", testSessionAuthContext},
}

// newChallenge stores a pending challenge of user u-1 created at t0.
func newChallenge(t *testing.T, s Store, name string) *sessionmanager.Challenge {
	t.Helper()
	c := &sessionmanager.Challenge{
		Hash: hashOf("challenge/" + name), UserID: "u-1", FirstFactor: sessionmanager.AuthPassword,
		Methods: []string{sessionmanager.MethodTOTP, sessionmanager.MethodEmail},
		IP:      netip.MustParseAddr("203.0.113.5"), UserAgent: "Mozilla/5.0 (test)",
		Facts: sessionmanager.ChallengeFacts{
			Device:   sessionmanager.Device{Type: "desktop", Browser: "Firefox", OS: "Linux"},
			Location: sessionmanager.Location{CountryCode: "DE", City: "Berlin"},
			Threat:   sessionmanager.Threat{VPN: true},
			Assessment: sessionmanager.Assessment{Score: 80, Action: sessionmanager.ActionChallenge, ChallengeReason: "vpn",
				Reasons: []sessionmanager.RiskReason{{Code: "vpn", Weight: 20, Detail: "VPN"}}, Triggered: map[string]sessionmanager.Action{"vpn": "challenge"}},
		},
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
	noErr(t, s.CreateChallenge(t.Context(), c), "create challenge %s", name)
	return c
}

// requireChallengeReason checks err is EINVALID with the reason.
func requireChallengeReason(t *testing.T, err error, reason string, what ...any) {
	t.Helper()
	var e *sessionmanager.Error
	if !errors.As(err, &e) || e.Code != sessionmanager.EINVALID || e.Reason != reason {
		t.Fatalf("%s: got %v, want EINVALID %s", label(what), err, reason)
	}
}

func sameChallenge(t *testing.T, want, got *sessionmanager.Challenge) {
	t.Helper()
	equal(t, want.IP, got.IP, "challenge ip")
	w, g := *want, *got
	w.IP, g.IP, w.ID = netip.Addr{}, netip.Addr{}, ""
	equal(t, w, g, "challenge")
}

func testChallengeRoundTrip(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	c := newChallenge(t, s, "a")
	got, err := s.ChallengeByHash(ctx, c.Hash)
	noErr(t, err)
	sameChallenge(t, c, got)
	requireCode(t, s.CreateChallenge(ctx, c), sessionmanager.ECONFLICT, "duplicate hash")
	_, err = s.ChallengeByHash(ctx, hashOf("nope"))
	requireCode(t, err, sessionmanager.ENOTFOUND, "unknown challenge")

	// The code and the factor state are stored as given (hashes, sealed bytes).
	noErr(t, s.SetChallengeCode(ctx, c.Hash, hashOf("code"), t0.Add(5*time.Minute)))
	noErr(t, s.SetChallengeState(ctx, c.Hash, []byte("sealed-state")))
	got, err = s.ChallengeByHash(ctx, c.Hash)
	noErr(t, err)
	equal(t, hashOf("code"), got.CodeHash, "code hash")
	equal(t, t0.Add(5*time.Minute), got.CodeExpiresAt, "code expiry")
	equal(t, []byte("sealed-state"), got.FactorState, "factor state")
}

func testChallengeReserve(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	c := newChallenge(t, s, "a")
	now := t0.Add(time.Minute)
	for i := 1; i <= 3; i++ {
		got, err := s.ReserveChallengeAttempt(ctx, c.Hash, now, 3)
		noErr(t, err, "attempt %d", i)
		equal(t, i, got.Attempts, "attempts after %d", i)
	}
	_, err := s.ReserveChallengeAttempt(ctx, c.Hash, now, 3)
	requireChallengeReason(t, err, sessionmanager.ReasonChallengeFailed, "past the limit")

	e := newChallenge(t, s, "expired")
	_, err = s.ReserveChallengeAttempt(ctx, e.Hash, e.ExpiresAt, 5)
	requireChallengeReason(t, err, sessionmanager.ReasonChallengeExpired, "at its expiry instant")
	_, err = s.ReserveChallengeAttempt(ctx, e.Hash, e.ExpiresAt.Add(-time.Microsecond), 5)
	noErr(t, err, "just before its expiry")

	_, err = s.ReserveChallengeAttempt(ctx, hashOf("nope"), now, 5)
	requireChallengeReason(t, err, sessionmanager.ReasonChallengeUnknown, "unknown")

	p := newChallenge(t, s, "passed")
	ended, err := s.EndChallenge(ctx, p.Hash, sessionmanager.ChallengePassed, now)
	noErr(t, err)
	check(t, ended, "end a pending challenge")
	_, err = s.ReserveChallengeAttempt(ctx, p.Hash, now, 5)
	requireChallengeReason(t, err, sessionmanager.ReasonChallengeUsed, "passed")

	f := newChallenge(t, s, "failed")
	_, _ = s.EndChallenge(ctx, f.Hash, sessionmanager.ChallengeFailed, now)
	_, err = s.ReserveChallengeAttempt(ctx, f.Hash, now, 5)
	requireChallengeReason(t, err, sessionmanager.ReasonChallengeFailed, "failed")
}

func testChallengeEnd(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	c := newChallenge(t, s, "a")
	at := t0.Add(2 * time.Minute)
	ended, err := s.EndChallenge(ctx, c.Hash, sessionmanager.ChallengePassed, at)
	noErr(t, err)
	check(t, ended, "first end")
	ended, err = s.EndChallenge(ctx, c.Hash, sessionmanager.ChallengeFailed, at)
	noErr(t, err)
	check(t, !ended, "second end must not win")
	got, err := s.ChallengeByHash(ctx, c.Hash)
	noErr(t, err)
	equal(t, sessionmanager.ChallengePassed, got.Outcome, "outcome kept")
	equal(t, at, got.EndedAt, "ended at")
	requireChallengeReason(t, s.SetChallengeCode(ctx, c.Hash, hashOf("late"), at), sessionmanager.ReasonChallengeUsed, "code after the end")
	requireChallengeReason(t, s.SetChallengeState(ctx, c.Hash, []byte("late")), sessionmanager.ReasonChallengeUsed, "state after the end")
	ended, err = s.EndChallenge(ctx, hashOf("nope"), sessionmanager.ChallengeFailed, at)
	noErr(t, err)
	check(t, !ended, "unknown challenge")
}

// testConcurrentChallengeReserve: racers reserve proofs of one challenge
// with a limit of 5: exactly 5 are counted, whatever the interleaving.
func testConcurrentChallengeReserve(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	c := newChallenge(t, s, "a")
	errs := race(func(int) error {
		_, err := s.ReserveChallengeAttempt(ctx, c.Hash, t0.Add(time.Minute), 5)
		return err
	})
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireChallengeReason(t, err, sessionmanager.ReasonChallengeFailed, "loser %d", i)
	}
	equal(t, 5, won, "reservations granted")
	got, err := s.ChallengeByHash(ctx, c.Hash)
	noErr(t, err)
	equal(t, 5, got.Attempts, "attempts stored")
}

// testConcurrentChallengeEnd: racers end one challenge: exactly one wins
// (so two good proofs cannot both open a session).
func testConcurrentChallengeEnd(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	c := newChallenge(t, s, "a")
	wins := make([]bool, racers)
	errs := race(func(i int) error {
		var err error
		wins[i], err = s.EndChallenge(ctx, c.Hash, sessionmanager.ChallengePassed, t0.Add(time.Minute))
		return err
	})
	n := 0
	for i, err := range errs {
		noErr(t, err, "racer %d", i)
		if wins[i] {
			n++
		}
	}
	equal(t, 1, n, "winners")
}

func testChallengePurgeErase(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	old := newChallenge(t, s, "old")
	n, err := s.PurgeChallenges(ctx, old.ExpiresAt)
	noErr(t, err)
	equal(t, 0, n, "a challenge expiring at the cutoff is kept")
	n, err = s.PurgeChallenges(ctx, old.ExpiresAt.Add(time.Microsecond))
	noErr(t, err)
	equal(t, 1, n, "purged")
	_, err = s.ChallengeByHash(ctx, old.Hash)
	requireCode(t, err, sessionmanager.ENOTFOUND, "purged challenge")

	// An erased user leaves no challenge (they keep an address and a user agent).
	c := newChallenge(t, s, "erase")
	noErr(t, s.EraseUser(ctx, "u-1", t0.Add(time.Hour)))
	_, err = s.ChallengeByHash(ctx, c.Hash)
	requireCode(t, err, sessionmanager.ENOTFOUND, "challenge of an erased user")
}

func testSessionAuthContext(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	auth := sessionmanager.AuthContext{AuthTime: t0, AMR: []string{"pwd", "otp", "mfa"}, ACR: "2"}
	sess := newSession(t, s, "s-1", "u-1", func(x *sessionmanager.Session) { x.AuthContext = auth })
	sess.UserEmail, sess.Username = "alice@example.com", "alice" // joined on reads
	requireSameSession(t, sess, getSession(t, s, "s-1"))
	plain := newSession(t, s, "s-2", "u-1")
	plain.UserEmail, plain.Username = "alice@example.com", "alice"
	requireSameSession(t, plain, getSession(t, s, "s-2"))

	up := sessionmanager.AuthContext{AuthTime: t0.Add(time.Hour), AMR: []string{"pwd", "hwk", "mfa"}, ACR: "2"}
	noErr(t, s.SetSessionAuth(ctx, "s-1", up))
	equal(t, up, getSession(t, s, "s-1").AuthContext, "raised auth context")
	requireCode(t, s.SetSessionAuth(ctx, "nope", up), sessionmanager.ENOTFOUND, "unknown session")
	_, err := s.EndSession(ctx, "s-2", sessionmanager.EndLogout, t0.Add(time.Minute))
	noErr(t, err)
	requireCode(t, s.SetSessionAuth(ctx, "s-2", up), sessionmanager.ENOTFOUND, "ended session")
}
