package storetest

import (
	"sync"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var trustTests = []namedTest{
	{"PasswordResetRequired", testPasswordResetRequired},
	{"TrustedDevices", testTrustedDevices},
	{"TrustedDevicesErased", testTrustedDevicesErased},
	{"ReportMarkerOnce", testReportMarkerOnce},
	{"ChallengeCounts", testChallengeCounts},
}

// testChallengeCounts: Stats counts the challenge and report events of the
// last 24 hours by type, every type listed, zeros included.
func testChallengeCounts(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0.Add(48 * time.Hour)
	add := func(typ string, at time.Time) {
		t.Helper()
		noErr(t, s.AppendEvent(ctx, &sessionmanager.Event{At: at, Type: typ, ActorType: sessionmanager.ActorUser, UserID: "u-1"}, nil))
	}
	add(sessionmanager.EventLoginChallenged, now.Add(-time.Hour))
	add(sessionmanager.EventLoginChallenged, now.Add(-23*time.Hour))
	add(sessionmanager.EventLoginChallenged, now.Add(-25*time.Hour)) // outside the window
	add(sessionmanager.EventChallengePassed, now.Add(-time.Minute))
	add(sessionmanager.EventSessionReported, now.Add(-2*time.Hour))
	add(sessionmanager.EventLoginSucceeded, now.Add(-time.Minute)) // not counted
	st, err := s.Stats(ctx, now)
	noErr(t, err)
	want := []sessionmanager.Count{{Key: sessionmanager.EventLoginChallenged, Count: 2}, {Key: sessionmanager.EventChallengePassed, Count: 1},
		{Key: sessionmanager.EventChallengeFailed, Count: 0}, {Key: sessionmanager.EventSessionReported, Count: 1}}
	equal(t, want, st.Challenges24h, "challenge counts")
}

// testPasswordResetRequired: the flag is stored at creation, set and
// cleared by UpdateUser, and kept by other updates.
func testPasswordResetRequired(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateUser(ctx, &sessionmanager.User{ID: "u-1", Email: "a@example.com", Username: "a", PasswordResetRequired: true, CreatedAt: t0, UpdatedAt: t0}))
	newUser(t, s, "u-2", "b@example.com", "b")
	a, err := s.UserByID(ctx, "u-1")
	noErr(t, err)
	check(t, a.PasswordResetRequired, "set at creation: %+v", a)
	yes, no := true, false
	b, err := s.UpdateUser(ctx, "u-2", sessionmanager.UserUpdate{PasswordResetRequired: &yes})
	noErr(t, err)
	check(t, b.PasswordResetRequired, "set by update: %+v", b)
	b, err = s.UpdateUser(ctx, "u-2", sessionmanager.UserUpdate{Confirmed: &yes})
	noErr(t, err)
	check(t, b.PasswordResetRequired && b.Confirmed, "kept by another update: %+v", b)
	read := b.PasswordHash
	b, err = s.UpdateUser(ctx, "u-2", sessionmanager.UserUpdate{PasswordResetRequired: &no, IfPasswordHash: &read, SpendTokens: true})
	noErr(t, err)
	check(t, !b.PasswordResetRequired, "cleared by a conditional update: %+v", b)
	b, err = s.UserByIdentifier(ctx, "b@example.com")
	noErr(t, err)
	check(t, !b.PasswordResetRequired, "read back: %+v", b)
}

func trustedDevice(id, userID, hash string, expires time.Time) *sessionmanager.TrustedDevice {
	return &sessionmanager.TrustedDevice{ID: id, UserID: userID, Hash: hashOf(hash), Name: "Firefox / Linux", IP: "192.0.2.7",
		CreatedAt: t0, LastUsedAt: t0, ExpiresAt: expires}
}

// testTrustedDevices: a device is found only by its hash AND its user and
// only before it expires; use moves last-used forward; lists are the
// user's live devices, newest first; delete by id or all.
func testTrustedDevices(t *testing.T, s Store) {
	ctx := t.Context()
	st := s
	newUser(t, s, "u-1", "a@example.com", "a")
	newUser(t, s, "u-2", "b@example.com", "b")
	day := 24 * time.Hour
	noErr(t, st.CreateTrustedDevice(ctx, trustedDevice("d-1", "u-1", "tok-1", t0.Add(30*day))))
	later := trustedDevice("d-2", "u-1", "tok-2", t0.Add(day))
	later.CreatedAt = t0.Add(time.Minute)
	noErr(t, st.CreateTrustedDevice(ctx, later))
	noErr(t, st.CreateTrustedDevice(ctx, trustedDevice("d-3", "u-2", "tok-3", t0.Add(30*day))))
	requireCode(t, st.CreateTrustedDevice(ctx, trustedDevice("d-4", "u-2", "tok-3", t0.Add(day))), sessionmanager.ECONFLICT, "duplicate hash")
	requireCode(t, st.CreateTrustedDevice(ctx, &sessionmanager.TrustedDevice{ID: "d-5", UserID: "u-1"}), sessionmanager.EINVALID, "no hash")

	d, err := st.UseTrustedDevice(ctx, "u-1", hashOf("tok-1"), t0.Add(time.Hour))
	noErr(t, err)
	equal(t, "d-1", d.ID)
	equal(t, t0.Add(time.Hour), d.LastUsedAt, "last used")
	equal(t, "Firefox / Linux", d.Name)
	_, err = st.UseTrustedDevice(ctx, "u-1", hashOf("tok-1"), t0)
	noErr(t, err)
	d, err = st.UseTrustedDevice(ctx, "u-1", hashOf("tok-1"), t0.Add(2*time.Hour))
	noErr(t, err)
	equal(t, t0.Add(2*time.Hour), d.LastUsedAt, "last used never goes back")
	requireCode(t, second(st.UseTrustedDevice(ctx, "u-2", hashOf("tok-1"), t0)), sessionmanager.ENOTFOUND, "another user's device")
	requireCode(t, second(st.UseTrustedDevice(ctx, "u-1", hashOf("tok-2"), t0.Add(day))), sessionmanager.ENOTFOUND, "expired at ExpiresAt")
	requireCode(t, second(st.UseTrustedDevice(ctx, "u-1", hashOf("nope"), t0)), sessionmanager.ENOTFOUND, "unknown")
	requireCode(t, second(st.UseTrustedDevice(ctx, "", nil, t0)), sessionmanager.ENOTFOUND, "empty")

	list, err := st.ListTrustedDevices(ctx, "u-1", t0)
	noErr(t, err)
	check(t, len(list) == 2 && list[0].ID == "d-2" && list[1].ID == "d-1", "newest first: %+v", list)
	list, err = st.ListTrustedDevices(ctx, "u-1", t0.Add(day))
	noErr(t, err)
	check(t, len(list) == 1 && list[0].ID == "d-1", "expired ones are not listed: %+v", list)
	list, err = st.ListTrustedDevices(ctx, "nobody' OR '1'='1", t0)
	noErr(t, err)
	check(t, list != nil && len(list) == 0, "none: %+v", list)

	n, err := st.DeleteTrustedDevices(ctx, "u-2", "d-1")
	noErr(t, err)
	equal(t, 0, n, "another user's device is not deleted")
	n, err = st.DeleteTrustedDevices(ctx, "u-1", "d-1")
	noErr(t, err)
	equal(t, 1, n)
	requireCode(t, second(st.UseTrustedDevice(ctx, "u-1", hashOf("tok-1"), t0)), sessionmanager.ENOTFOUND, "deleted")
	n, err = st.DeleteTrustedDevices(ctx, "u-1", "")
	noErr(t, err)
	equal(t, 1, n, "all of u-1's (the expired one too)")
	list, err = st.ListTrustedDevices(ctx, "u-2", t0)
	noErr(t, err)
	equal(t, 1, len(list), "u-2 keeps its own")
}

// testTrustedDevicesErased: erasing a user deletes its trusted devices.
func testTrustedDevicesErased(t *testing.T, s Store) {
	ctx := t.Context()
	st := s
	newUser(t, s, "u-1", "a@example.com", "a")
	noErr(t, st.CreateTrustedDevice(ctx, trustedDevice("d-1", "u-1", "tok-1", t0.Add(time.Hour))))
	noErr(t, s.EraseUser(ctx, "u-1", t0))
	list, err := st.ListTrustedDevices(ctx, "u-1", t0)
	noErr(t, err)
	equal(t, 0, len(list), "erased")
}

// testReportMarkerOnce: a spent "This wasn't me" link is a magic-link row
// inserted already used; of concurrent inserts of one hash exactly one
// succeeds (the others are ECONFLICT), which makes the link single-use.
func testReportMarkerOnce(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "a@example.com", "a")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateMagicLink(ctx, &sessionmanager.MagicLink{Hash: hashOf("report"), Email: "a@example.com", UserID: "u-1",
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UsedAt: t0})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireCode(t, err, sessionmanager.ECONFLICT, "a losing insert")
	}
	equal(t, 1, won, "exactly one insert wins")
	requireLinkReason(t, second(s.ConsumeMagicLink(ctx, hashOf("report"), t0)), "link_used", "inserted used")
}
