package storetest

import (
	"crypto/sha256"
	"net/netip"
	"slices"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// t0 is the suite's reference time: every fixture is placed relative to it,
// so no assertion depends on the wall clock.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// hashOf is a stand-in lookup hash (the store never sees the token).
func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// newUser creates a user with the id, email and username.
func newUser(t *testing.T, s Store, id, email, username string) *sessionmanager.User {
	t.Helper()
	u := &sessionmanager.User{ID: id, Email: email, Username: username, PasswordHash: "$argon2id$v=19$stub-" + id,
		CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.CreateUser(t.Context(), u), "create user %s", id)
	return u
}

// sessionOpt changes a session fixture before it is created.
type sessionOpt func(*sessionmanager.Session)

// baseSession is a plain live session of user created at t0.
func baseSession(id, userID string) *sessionmanager.Session {
	return &sessionmanager.Session{
		ID: id, UserID: userID, Status: sessionmanager.StatusActive, AuthMethod: sessionmanager.AuthPassword,
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour),
		IP: netip.MustParseAddr("192.0.2.10"), UserAgent: "Mozilla/5.0 (test)",
		Device:        sessionmanager.Device{Type: "desktop", Browser: "Chrome", OS: "Windows"},
		Score:         100,
		RefreshFamily: "fam-" + id,
	}
}

// newSession creates a session of user (refresh hash hashOf(id+"/r0")).
func newSession(t *testing.T, s Store, id, userID string, opts ...sessionOpt) *sessionmanager.Session {
	t.Helper()
	sess := baseSession(id, userID)
	for _, o := range opts {
		o(sess)
	}
	noErr(t, s.CreateSession(t.Context(), sess, hashOf(id+"/r0")), "create session %s", id)
	return sess
}

// getSession reads a session that must exist.
func getSession(t *testing.T, s Store, id string) *sessionmanager.Session {
	t.Helper()
	got, err := s.SessionByID(t.Context(), id)
	noErr(t, err, "read session %s", id)
	return got
}

// normalized copies sess with equal-meaning values made identical: nil
// and empty reasons, and the refresh fields' nil and empty byte slices.
func normalized(sess *sessionmanager.Session) sessionmanager.Session {
	c := *sess
	if len(c.Reasons) == 0 {
		c.Reasons = nil
	}
	if len(c.RefreshSealed) == 0 {
		c.RefreshSealed = nil
	}
	return c
}

// requireSameSession compares two sessions field by field (IP by value).
func requireSameSession(t *testing.T, want, got *sessionmanager.Session) {
	t.Helper()
	w, g := normalized(want), normalized(got)
	equal(t, w.IP, g.IP, "ip of %s", want.ID)
	w.IP, g.IP = netip.Addr{}, netip.Addr{}
	equal(t, w, g, "session %s", want.ID)
}

// allSessions pages through ListSessions with page size pageSize and
// returns the ids in order; it fails if any id repeats.
func allSessions(t *testing.T, s Store, f sessionmanager.SessionFilter, pageSize int) []string {
	t.Helper()
	f.Limit = pageSize
	var ids []string
	seen := map[string]bool{}
	for range 1000 {
		page, err := s.ListSessions(t.Context(), f)
		noErr(t, err, "list sessions")
		check(t, len(page.Sessions) <= pageSize, "page of %d sessions exceeds limit %d", len(page.Sessions), pageSize)
		for _, sess := range page.Sessions {
			check(t, !seen[sess.ID], "session %s listed twice", sess.ID)
			seen[sess.ID] = true
			ids = append(ids, sess.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		f.Cursor = page.NextCursor
	}
	t.Fatal("ListSessions never returned an empty cursor")
	return nil
}

// sorted returns a sorted copy of ids (for set comparisons).
func sorted(ids []string) []string {
	c := slices.Clone(ids)
	slices.Sort(c)
	if c == nil {
		c = []string{}
	}
	return c
}
