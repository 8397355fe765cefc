package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var totpTests = []namedTest{
	{"EnrolConfirmDelete", testUserTOTP},
	{"ConfirmOnlyThePendingSecret", testConfirmTOTPConflict},
	{"RecoveryCodesSingleUse", testRecoveryCodes},
	{"RecoveryCodeUsedExactlyOnce", testConcurrentRecoveryCode},
	{"EraseUserDeletesFactors", testEraseUserFactors},
	{"StepUpChallengeKeepsItsSession", testStepUpChallenge},
}

// testStepUpChallenge: a challenge keeps the session it steps up ("" for a
// login's), through create, read and the attempt reservation.
func testStepUpChallenge(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	for _, sid := range []string{"s-1", ""} {
		c := &sessionmanager.Challenge{Hash: hashOf("challenge-" + sid), UserID: "u-1", FirstFactor: sessionmanager.AuthPassword,
			Methods: []string{"email"}, SessionID: sid, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
		noErr(t, s.CreateChallenge(ctx, c))
		got, err := s.ChallengeByHash(ctx, c.Hash)
		noErr(t, err)
		equal(t, sid, got.SessionID, "read back")
		got, err = s.ReserveChallengeAttempt(ctx, c.Hash, t0, sessionmanager.MaxChallengeAttempts)
		noErr(t, err)
		equal(t, sid, got.SessionID, "reserved")
	}
}

func testUserTOTP(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	requireCode(t, second(s.UserTOTP(ctx, "u-1")), sessionmanager.ENOTFOUND, "no enrolment yet")
	requireCode(t, s.SetPendingTOTP(ctx, "nope", []byte("sealed"), t0), sessionmanager.ENOTFOUND, "missing user")

	noErr(t, s.SetPendingTOTP(ctx, "u-1", []byte("first"), t0))
	got, err := s.UserTOTP(ctx, "u-1")
	noErr(t, err)
	equal(t, sessionmanager.UserTOTP{UserID: "u-1", PendingSealed: []byte("first"), PendingAt: t0}, *got, "pending only")
	check(t, !got.Active(), "pending is not active")

	noErr(t, s.ConfirmTOTP(ctx, "u-1", []byte("first"), t0.Add(time.Minute)))
	got, err = s.UserTOTP(ctx, "u-1")
	noErr(t, err)
	equal(t, sessionmanager.UserTOTP{UserID: "u-1", Sealed: []byte("first"), ConfirmedAt: t0.Add(time.Minute)}, *got, "confirmed")
	check(t, got.Active(), "active")

	// A new enrolment keeps the active secret until it is confirmed.
	noErr(t, s.SetPendingTOTP(ctx, "u-1", []byte("second"), t0.Add(time.Hour)))
	got, err = s.UserTOTP(ctx, "u-1")
	noErr(t, err)
	equal(t, []byte("first"), got.Sealed, "active secret kept")
	equal(t, []byte("second"), got.PendingSealed, "new pending")
	noErr(t, s.ConfirmTOTP(ctx, "u-1", []byte("second"), t0.Add(2*time.Hour)))
	got, err = s.UserTOTP(ctx, "u-1")
	noErr(t, err)
	equal(t, []byte("second"), got.Sealed, "replaced on confirmation")
	check(t, got.PendingSealed == nil, "no pending left")

	removed, err := s.DeleteUserTOTP(ctx, "u-1")
	noErr(t, err)
	check(t, removed, "removed")
	removed, err = s.DeleteUserTOTP(ctx, "u-1")
	noErr(t, err)
	check(t, !removed, "second delete removes nothing")
	requireCode(t, second(s.UserTOTP(ctx, "u-1")), sessionmanager.ENOTFOUND, "gone")
}

func testConfirmTOTPConflict(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	requireCode(t, s.ConfirmTOTP(ctx, "u-1", []byte("x"), t0), sessionmanager.ECONFLICT, "nothing pending")
	noErr(t, s.SetPendingTOTP(ctx, "u-1", []byte("first"), t0))
	noErr(t, s.SetPendingTOTP(ctx, "u-1", []byte("second"), t0))
	requireCode(t, s.ConfirmTOTP(ctx, "u-1", []byte("first"), t0), sessionmanager.ECONFLICT, "replaced pending secret")
	noErr(t, s.ConfirmTOTP(ctx, "u-1", []byte("second"), t0))
	requireCode(t, s.ConfirmTOTP(ctx, "u-1", []byte("second"), t0), sessionmanager.ECONFLICT, "confirmed twice")
}

func testRecoveryCodes(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	requireCode(t, s.ReplaceRecoveryCodes(ctx, "nope", [][]byte{hashOf("c")}, t0), sessionmanager.ENOTFOUND, "missing user")
	left := func(user string) int {
		t.Helper()
		n, err := s.RecoveryCodesLeft(ctx, user)
		noErr(t, err)
		return n
	}
	equal(t, 0, left("u-1"), "none yet")
	codes := make([][]byte, 10)
	for i := range codes {
		codes[i] = hashOf(fmt.Sprintf("code-%d", i))
	}
	noErr(t, s.ReplaceRecoveryCodes(ctx, "u-1", codes, t0))
	equal(t, 10, left("u-1"), "ten codes")
	equal(t, 0, left("u-2"), "not another user's")

	noErr(t, s.UseRecoveryCode(ctx, "u-1", codes[3], t0.Add(time.Minute)))
	equal(t, 9, left("u-1"), "one used")
	requireCode(t, s.UseRecoveryCode(ctx, "u-1", codes[3], t0.Add(time.Minute)), sessionmanager.ENOTFOUND, "used twice")
	requireCode(t, s.UseRecoveryCode(ctx, "u-2", codes[4], t0), sessionmanager.ENOTFOUND, "another user's code")
	requireCode(t, s.UseRecoveryCode(ctx, "u-1", hashOf("unknown"), t0), sessionmanager.ENOTFOUND, "unknown code")

	// Regenerating replaces every code, the unused ones too.
	fresh := [][]byte{hashOf("fresh-1"), hashOf("fresh-2")}
	noErr(t, s.ReplaceRecoveryCodes(ctx, "u-1", fresh, t0.Add(time.Hour)))
	equal(t, 2, left("u-1"), "replaced")
	requireCode(t, s.UseRecoveryCode(ctx, "u-1", codes[5], t0.Add(time.Hour)), sessionmanager.ENOTFOUND, "old code void")
	noErr(t, s.UseRecoveryCode(ctx, "u-1", fresh[1], t0.Add(time.Hour)))
	// The same hash for two users is no conflict (hashes are keyed by user
	// in practice, but the store must not assume it).
	noErr(t, s.ReplaceRecoveryCodes(ctx, "u-2", [][]byte{fresh[0]}, t0))
	noErr(t, s.ReplaceRecoveryCodes(ctx, "u-1", nil, t0.Add(2*time.Hour)))
	equal(t, 0, left("u-1"), "none: deleted")
	equal(t, 1, left("u-2"), "other user's kept")
}

// testConcurrentRecoveryCode: racers spend one code; exactly one wins.
func testConcurrentRecoveryCode(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	code := hashOf("the-code")
	noErr(t, s.ReplaceRecoveryCodes(ctx, "u-1", [][]byte{code, hashOf("other")}, t0))
	wins := 0
	for i, err := range race(func(int) error { return s.UseRecoveryCode(ctx, "u-1", bytes.Clone(code), t0) }) {
		if err == nil {
			wins++
			continue
		}
		requireCode(t, err, sessionmanager.ENOTFOUND, "racer", i)
	}
	equal(t, 1, wins, "exactly one racer spends the code")
	n, err := s.RecoveryCodesLeft(ctx, "u-1")
	noErr(t, err)
	equal(t, 1, n, "the other code is left")
}

func testEraseUserFactors(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	for _, u := range []string{"u-1", "u-2"} {
		noErr(t, s.SetPendingTOTP(ctx, u, []byte("sealed-"+u), t0))
		noErr(t, s.ConfirmTOTP(ctx, u, []byte("sealed-"+u), t0))
		noErr(t, s.ReplaceRecoveryCodes(ctx, u, [][]byte{hashOf("c-" + u)}, t0))
	}
	noErr(t, s.EraseUser(ctx, "u-1", t0.Add(time.Hour)))
	requireCode(t, second(s.UserTOTP(ctx, "u-1")), sessionmanager.ENOTFOUND, "erased user's TOTP")
	n, err := s.RecoveryCodesLeft(ctx, "u-1")
	noErr(t, err)
	equal(t, 0, n, "erased user's recovery codes")
	got, err := s.UserTOTP(ctx, "u-2")
	noErr(t, err)
	check(t, got.Active(), "other user's TOTP kept")
	n, err = s.RecoveryCodesLeft(ctx, "u-2")
	noErr(t, err)
	equal(t, 1, n, "other user's codes kept")
}
