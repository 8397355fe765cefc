package storetest

import (
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// adminSession is a dashboard session of admin created at t0+offset.
func adminSession(id, admin string, offset time.Duration) *sessionmanager.AdminSession {
	at := t0.Add(offset)
	return &sessionmanager.AdminSession{ID: id, AdminID: admin, Hash: hashOf("admin-token-" + id), IP: "203.0.113.9",
		UserAgent: "Mozilla/5.0", CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(8 * time.Hour)}
}

func testAdminSessions(t *testing.T, s Store) {
	ctx := t.Context()
	a1 := adminSession("as-1", "a-1", 0)
	noErr(t, s.CreateAdminSession(ctx, a1))
	noErr(t, s.CreateAdminSession(ctx, adminSession("as-2", "a-1", time.Minute)))
	noErr(t, s.CreateAdminSession(ctx, adminSession("as-3", "a-2", 2*time.Minute)))
	dup := adminSession("as-4", "a-1", 0)
	dup.Hash = a1.Hash
	requireCode(t, s.CreateAdminSession(ctx, dup), sessionmanager.ECONFLICT, "duplicate hash")
	requireCode(t, s.CreateAdminSession(ctx, &sessionmanager.AdminSession{ID: "as-5"}), sessionmanager.EINVALID, "missing fields")

	got, err := s.AdminSessionByHash(ctx, a1.Hash)
	noErr(t, err)
	equal(t, *a1, *got, "by hash")
	got, err = s.AdminSessionByID(ctx, "as-1")
	noErr(t, err)
	equal(t, *a1, *got, "by id")
	requireCode(t, second(s.AdminSessionByHash(ctx, hashOf("unknown"))), sessionmanager.ENOTFOUND, "unknown hash")
	requireCode(t, second(s.AdminSessionByHash(ctx, nil)), sessionmanager.ENOTFOUND, "empty hash")
	requireCode(t, second(s.AdminSessionByID(ctx, "nope")), sessionmanager.ENOTFOUND, "unknown id")

	// Last seen only moves forward.
	seen := t0.Add(10 * time.Minute)
	noErr(t, s.TouchAdminSession(ctx, "as-1", seen))
	noErr(t, s.TouchAdminSession(ctx, "as-1", t0.Add(5*time.Minute)))
	got, _ = s.AdminSessionByID(ctx, "as-1")
	equal(t, seen, got.LastSeenAt, "last seen never goes back")

	list, err := s.ListAdminSessions(ctx, "", t0.Add(time.Hour))
	noErr(t, err)
	check(t, len(list) == 3 && list[0].ID == "as-3" && list[2].ID == "as-1", "every admin's, newest first: %v", ids(list))
	list, err = s.ListAdminSessions(ctx, "a-1", t0.Add(time.Hour))
	noErr(t, err)
	check(t, len(list) == 2 && list[0].ID == "as-2", "one admin's: %v", ids(list))
	list, err = s.ListAdminSessions(ctx, "a-1", t0.Add(8*time.Hour+30*time.Second))
	noErr(t, err)
	check(t, len(list) == 1 && list[0].ID == "as-2", "an expired session is not listed: %v", ids(list))

	ended := t0.Add(20 * time.Minute)
	noErr(t, s.EndAdminSession(ctx, "as-1", ended, sessionmanager.EndLogout))
	requireCode(t, s.EndAdminSession(ctx, "as-1", ended.Add(time.Second), sessionmanager.EndManual), sessionmanager.ENOTFOUND, "ending twice")
	requireCode(t, s.EndAdminSession(ctx, "nope", ended, sessionmanager.EndManual), sessionmanager.ENOTFOUND, "ending an unknown session")
	requireCode(t, s.TouchAdminSession(ctx, "as-1", ended.Add(time.Minute)), sessionmanager.ENOTFOUND, "touching an ended session")
	got, err = s.AdminSessionByHash(ctx, a1.Hash)
	noErr(t, err, "an ended session is still found by hash")
	check(t, got.Ended() && got.EndedAt.Equal(ended) && got.EndReason == sessionmanager.EndLogout && got.LastSeenAt.Equal(seen), "ended: %+v", got)
	list, _ = s.ListAdminSessions(ctx, "", t0.Add(time.Hour))
	check(t, len(list) == 2, "an ended session is not listed: %v", ids(list))

	// Ending all of an admin's sessions but one.
	noErr(t, s.CreateAdminSession(ctx, adminSession("as-6", "a-1", 3*time.Minute)))
	endedIDs, err := s.EndAdminSessions(ctx, "a-1", "as-6", ended, sessionmanager.EndPasswordChanged)
	noErr(t, err)
	check(t, len(endedIDs) == 1 && endedIDs[0] == "as-2", "ends the others, not the ended nor the kept one: %v", endedIDs)
	got, _ = s.AdminSessionByID(ctx, "as-2")
	check(t, got.EndReason == sessionmanager.EndPasswordChanged, "reason: %+v", got)
	got, _ = s.AdminSessionByID(ctx, "as-3")
	check(t, !got.Ended(), "another admin's session stays: %+v", got)
	endedIDs, err = s.EndAdminSessions(ctx, "a-1", "", ended, sessionmanager.EndTOTPChanged)
	noErr(t, err)
	check(t, len(endedIDs) == 1 && endedIDs[0] == "as-6", "without an exception every live one: %v", endedIDs)
	endedIDs, err = s.EndAdminSessions(ctx, "nobody", "", ended, sessionmanager.EndManual)
	noErr(t, err)
	check(t, len(endedIDs) == 0, "nothing to end: %v", endedIDs)

	// Purge removes what ended or expired before the cutoff.
	n, err := s.PurgeAdminSessions(ctx, ended.Add(time.Second))
	noErr(t, err)
	equal(t, int64(3), n, "purged ended sessions")
	n, err = s.PurgeAdminSessions(ctx, t0.Add(9*time.Hour))
	noErr(t, err)
	equal(t, int64(1), n, "purged the expired one")
	requireCode(t, second(s.AdminSessionByID(ctx, "as-3")), sessionmanager.ENOTFOUND, "purged")
}

func testAdminPassword(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-1", Email: "root@example.com", PasswordHash: "$argon2id$old", CreatedAt: t0}))
	noErr(t, s.SetAdminPassword(ctx, "a-1", "$argon2id$new"))
	got, err := s.AdminByID(ctx, "a-1")
	noErr(t, err)
	equal(t, "$argon2id$new", got.PasswordHash)
	requireCode(t, s.SetAdminPassword(ctx, "nope", "x"), sessionmanager.ENOTFOUND, "missing admin")
}

// testConcurrentAdminSessionEnd: of parallel ends of one session exactly one wins.
func testConcurrentAdminSessionEnd(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdminSession(ctx, adminSession("as-1", "a-1", 0)))
	wins := 0
	for i, err := range race(func(int) error { return s.EndAdminSession(ctx, "as-1", t0.Add(time.Minute), sessionmanager.EndManual) }) {
		if err == nil {
			wins++
		} else {
			requireCode(t, err, sessionmanager.ENOTFOUND, "loser %d", i)
		}
	}
	equal(t, 1, wins, "exactly one end wins")
}

func ids(list []*sessionmanager.AdminSession) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.ID
	}
	return out
}
