package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var passkeyTests = []namedTest{
	{"CreateListRenameDelete", testPasskeys},
	{"UseCounter", testPasskeyUse},
	{"ConcurrentUse", testConcurrentPasskeyUse},
	{"Ceremonies", testPasskeyCeremonies},
	{"ConcurrentCeremonyConsume", testConcurrentCeremonyConsume},
	{"EraseUser", testPasskeysErased},
	{"DeleteUserPasskeys", testDeleteUserPasskeys},
}

func newPasskey(id, userID string, credID string, at time.Time) *sessionmanager.Passkey {
	return &sessionmanager.Passkey{ID: id, CredentialID: []byte(credID), UserID: userID, Name: "key " + id,
		PublicKey: []byte("cose-" + id), SignCount: 1, Transports: []string{"internal", "hybrid"},
		AAGUID: bytes.Repeat([]byte{7}, 16), BackupEligible: true, UserVerified: true,
		AttestationType: "none", AttestationFormat: "none", Attachment: "platform", CreatedAt: at}
}

func testPasskeys(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	list, err := s.PasskeysByUser(ctx, "u-1")
	noErr(t, err)
	check(t, list != nil && len(list) == 0, "no passkeys yet: an empty list, not nil")

	p2 := newPasskey("pk-2", "u-1", "cred-2", t0.Add(time.Minute))
	p1 := newPasskey("pk-1", "u-1", "cred-1", t0)
	p1.Transports, p1.AAGUID, p1.BackupEligible = nil, nil, false
	noErr(t, s.CreatePasskey(ctx, p2))
	noErr(t, s.CreatePasskey(ctx, p1))
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-3", "u-2", "cred-3", t0)))
	requireCode(t, s.CreatePasskey(ctx, newPasskey("pk-4", "u-2", "cred-1", t0)), sessionmanager.ECONFLICT, "a credential id registered to another user")
	requireCode(t, s.CreatePasskey(ctx, newPasskey("pk-1", "u-2", "cred-9", t0)), sessionmanager.ECONFLICT, "duplicate id")
	check(t, s.CreatePasskey(ctx, newPasskey("pk-5", "u-missing", "cred-5", t0)) != nil, "a passkey of a user that does not exist")

	list, err = s.PasskeysByUser(ctx, "u-1")
	noErr(t, err)
	equal(t, 2, len(list), "alice's passkeys only")
	n, err := s.CountPasskeys(ctx, "u-1")
	noErr(t, err)
	equal(t, 2, n, "counted")
	equal(t, "pk-1", list[0].ID, "oldest first")
	got := list[1]
	equal(t, "cred-2", string(got.CredentialID))
	equal(t, "u-1", got.UserID)
	equal(t, "key pk-2", got.Name)
	equal(t, "cose-pk-2", string(got.PublicKey))
	equal(t, uint32(1), got.SignCount)
	equal(t, fmt.Sprint([]string{"internal", "hybrid"}), fmt.Sprint(got.Transports))
	check(t, bytes.Equal(bytes.Repeat([]byte{7}, 16), got.AAGUID), "aaguid %x", got.AAGUID)
	check(t, got.BackupEligible && !got.BackupState && got.UserVerified, "flags %+v", got)
	equal(t, "none", got.AttestationType)
	equal(t, "none", got.AttestationFormat)
	equal(t, "platform", got.Attachment)
	check(t, got.CreatedAt.Equal(t0.Add(time.Minute)) && got.LastUsedAt.IsZero(), "times %v %v", got.CreatedAt, got.LastUsedAt)
	check(t, list[0].Transports != nil && len(list[0].Transports) == 0 && len(list[0].AAGUID) == 0, "empty transports and aaguid: %+v", list[0])

	byCred, err := s.PasskeyByCredentialID(ctx, []byte("cred-3"))
	noErr(t, err)
	equal(t, "u-2", byCred.UserID)
	requireCode(t, second(s.PasskeyByCredentialID(ctx, []byte("cred-none"))), sessionmanager.ENOTFOUND)

	requireCode(t, s.RenamePasskey(ctx, "u-2", "pk-1", "stolen"), sessionmanager.ENOTFOUND, "rename another user's passkey")
	noErr(t, s.RenamePasskey(ctx, "u-1", "pk-1", "YubiKey ' ; --"))
	requireCode(t, s.DeletePasskey(ctx, "u-2", "pk-1"), sessionmanager.ENOTFOUND, "delete another user's passkey")
	list, _ = s.PasskeysByUser(ctx, "u-1")
	equal(t, "YubiKey ' ; --", list[0].Name, "renamed, metacharacters as data")
	noErr(t, s.DeletePasskey(ctx, "u-1", "pk-1"))
	n, _ = s.CountPasskeys(ctx, "u-1")
	equal(t, 1, n, "counted after a removal")
	requireCode(t, s.DeletePasskey(ctx, "u-1", "pk-1"), sessionmanager.ENOTFOUND, "deleted twice")
	list, _ = s.PasskeysByUser(ctx, "u-1")
	equal(t, 1, len(list))
	requireCode(t, second(s.PasskeyByCredentialID(ctx, []byte("cred-1"))), sessionmanager.ENOTFOUND, "a deleted passkey signs nobody in")
}

func testPasskeyUse(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-1", "u-1", "cred-1", t0)))
	at := t0.Add(time.Hour)
	noErr(t, s.RecordPasskeyUse(ctx, "pk-1", 5, true, at))
	got, _ := s.PasskeyByCredentialID(ctx, []byte("cred-1"))
	check(t, got.SignCount == 5 && got.BackupState && got.LastUsedAt.Equal(at), "use recorded: %+v", got)
	requireCode(t, s.RecordPasskeyUse(ctx, "pk-1", 5, false, at.Add(time.Minute)), sessionmanager.ECONFLICT, "the same counter again (a replay or a clone)")
	requireCode(t, s.RecordPasskeyUse(ctx, "pk-1", 4, false, at.Add(time.Minute)), sessionmanager.ECONFLICT, "a counter that went back")
	got, _ = s.PasskeyByCredentialID(ctx, []byte("cred-1"))
	check(t, got.SignCount == 5 && got.BackupState && got.LastUsedAt.Equal(at), "a refused use changes nothing: %+v", got)
	requireCode(t, s.RecordPasskeyUse(ctx, "pk-none", 9, false, at), sessionmanager.ENOTFOUND)

	// An authenticator without a counter always sends 0.
	p := newPasskey("pk-2", "u-1", "cred-2", t0)
	p.SignCount = 0
	noErr(t, s.CreatePasskey(ctx, p))
	noErr(t, s.RecordPasskeyUse(ctx, "pk-2", 0, false, at))
	noErr(t, s.RecordPasskeyUse(ctx, "pk-2", 0, false, at.Add(time.Minute)), "no counter: 0 stays accepted")
	noErr(t, s.RecordPasskeyUse(ctx, "pk-2", 3, false, at.Add(2*time.Minute)), "a counter that starts")
	requireCode(t, s.RecordPasskeyUse(ctx, "pk-2", 0, false, at.Add(3*time.Minute)), sessionmanager.ECONFLICT, "a started counter cannot drop to 0")
}

func testConcurrentPasskeyUse(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-1", "u-1", "cred-1", t0)))
	errs := race(func(i int) error { return s.RecordPasskeyUse(ctx, "pk-1", 2, false, t0.Add(time.Minute)) })
	oneWinner(t, errs, sessionmanager.ECONFLICT, "one assertion counter")
}

// oneWinner checks that exactly one of errs is nil and every other has code.
func oneWinner(t *testing.T, errs []error, code, what string) {
	t.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireCode(t, err, code, what+": a loser")
	}
	equal(t, 1, won, what+": one winner")
}

func newCeremony(hash string, at time.Time) *sessionmanager.PasskeyCeremony {
	return &sessionmanager.PasskeyCeremony{Hash: hashOf(hash), Purpose: sessionmanager.CeremonyRegister, UserID: "u-1", SessionID: "s-1",
		ChallengeID: "ch-1", State: []byte("sealed " + hash), CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
}

func testPasskeyCeremonies(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c1", t0)))
	requireCode(t, s.CreatePasskeyCeremony(ctx, newCeremony("c1", t0)), sessionmanager.ECONFLICT, "the same challenge twice")
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c2", t0)))

	c, err := s.ConsumePasskeyCeremony(ctx, hashOf("c1"), t0.Add(time.Minute))
	noErr(t, err)
	check(t, bytes.Equal(c.Hash, hashOf("c1")) && c.Purpose == sessionmanager.CeremonyRegister && c.UserID == "u-1" &&
		c.SessionID == "s-1" && c.ChallengeID == "ch-1" && string(c.State) == "sealed c1", "ceremony read back: %+v", c)
	check(t, c.CreatedAt.Equal(t0) && c.ExpiresAt.Equal(t0.Add(5*time.Minute)), "times %v %v", c.CreatedAt, c.ExpiresAt)
	requireCode(t, second(s.ConsumePasskeyCeremony(ctx, hashOf("c1"), t0.Add(time.Minute))), sessionmanager.ENOTFOUND, "single use")
	requireCode(t, second(s.ConsumePasskeyCeremony(ctx, hashOf("c2"), t0.Add(5*time.Minute))), sessionmanager.ENOTFOUND, "expired from ExpiresAt on")
	requireCode(t, second(s.ConsumePasskeyCeremony(ctx, hashOf("none"), t0)), sessionmanager.ENOTFOUND, "unknown")

	// A new ceremony drops the expired ones (nothing piles up).
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c3", t0)))
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c4", t0.Add(time.Hour))))
	requireCode(t, second(s.ConsumePasskeyCeremony(ctx, hashOf("c3"), t0)), sessionmanager.ENOTFOUND, "an expired ceremony was dropped")
	_, err = s.ConsumePasskeyCeremony(ctx, hashOf("c4"), t0.Add(time.Hour))
	noErr(t, err)
}

func testConcurrentCeremonyConsume(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c1", t0)))
	errs := race(func(int) error {
		_, err := s.ConsumePasskeyCeremony(ctx, hashOf("c1"), t0.Add(time.Second))
		return err
	})
	oneWinner(t, errs, sessionmanager.ENOTFOUND, "one ceremony")
}

func testPasskeysErased(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-1", "u-1", "cred-1", t0)))
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-2", "u-2", "cred-2", t0)))
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c1", t0)))
	noErr(t, s.EraseUser(ctx, "u-1", t0.Add(time.Hour)))
	list, err := s.PasskeysByUser(ctx, "u-1")
	noErr(t, err)
	equal(t, 0, len(list), "an erased user's passkeys are gone")
	requireCode(t, second(s.ConsumePasskeyCeremony(ctx, hashOf("c1"), t0)), sessionmanager.ENOTFOUND, "and its ceremonies")
	list, _ = s.PasskeysByUser(ctx, "u-2")
	equal(t, 1, len(list), "another user's stay")
}

func testDeleteUserPasskeys(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-1", "u-1", "cred-1", t0)))
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-2", "u-1", "cred-2", t0)))
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk-3", "u-2", "cred-3", t0)))
	noErr(t, s.CreatePasskeyCeremony(ctx, newCeremony("c1", t0)))
	n, err := s.DeleteUserPasskeys(ctx, "u-1")
	noErr(t, err)
	equal(t, 2, n, "alice's two passkeys")
	n, _ = s.CountPasskeys(ctx, "u-1")
	equal(t, 0, n, "none left")
	requireCode(t, second(s.ConsumePasskeyCeremony(ctx, hashOf("c1"), t0)), sessionmanager.ENOTFOUND, "her pending ceremonies went too")
	n, _ = s.CountPasskeys(ctx, "u-2")
	equal(t, 1, n, "bob's stays")
	n, err = s.DeleteUserPasskeys(ctx, "u-1")
	noErr(t, err)
	equal(t, 0, n, "nothing to delete is no error")
}
