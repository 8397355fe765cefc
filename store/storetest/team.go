package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager"
)

func testTeamRoles(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-1", Email: "owner@example.com", CreatedAt: t0}))
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-2", Email: "viewer@example.com", Role: sessionmanager.RoleViewer, CreatedAt: t0.Add(time.Second)}))
	list, err := s.ListAdmins(ctx)
	noErr(t, err)
	equal(t, 2, len(list))
	equal(t, "a-1", list[0].ID, "oldest first")
	equal(t, sessionmanager.RoleOwner, list[0].Role, "an admin made without a role is an owner")
	equal(t, sessionmanager.RoleViewer, list[1].Role)

	requireCode(t, second(s.SetAdminAccess(ctx, "a-1", role(sessionmanager.RoleAdmin))), sessionmanager.ECONFLICT, "demote the last owner")
	requireCode(t, second(s.SetAdminAccess(ctx, "a-1", deactivate(t0))), sessionmanager.ECONFLICT, "deactivate the last owner")
	requireCode(t, second(s.SetAdminAccess(ctx, "nope", role(sessionmanager.RoleViewer))), sessionmanager.ENOTFOUND, "unknown admin")
	got, err := s.AdminByID(ctx, "a-1")
	noErr(t, err)
	equal(t, sessionmanager.RoleOwner, got.Role, "refused change left nothing behind")
	check(t, !got.Disabled(), "still active")

	noErr(t, second(s.SetAdminAccess(ctx, "a-2", role(sessionmanager.RoleOwner))))
	got, err = s.SetAdminAccess(ctx, "a-1", role(sessionmanager.RoleAdmin))
	noErr(t, err)
	equal(t, sessionmanager.RoleAdmin, got.Role, "the changed admin is returned")
	noErr(t, second(s.SetAdminAccess(ctx, "a-1", deactivate(t0.Add(time.Minute)))))
	noErr(t, second(s.SetAdminAccess(ctx, "a-1", deactivate(t0.Add(time.Hour)))), "deactivating again")
	got, err = s.AdminByID(ctx, "a-1")
	noErr(t, err)
	equal(t, sessionmanager.RoleAdmin, got.Role, "a deactivation leaves the role")
	check(t, got.DisabledAt.Equal(t0.Add(time.Minute)), "disabled at %v, want the first deactivation's time", got.DisabledAt)
	got, err = s.SetAdminAccess(ctx, "a-1", role(sessionmanager.RoleViewer))
	noErr(t, err)
	check(t, got.Disabled(), "a role change leaves the deactivation")
	noErr(t, second(s.SetAdminAccess(ctx, "a-1", sessionmanager.AdminAccessChange{Reactivate: true})))
	got, err = s.AdminByID(ctx, "a-1")
	noErr(t, err)
	check(t, !got.Disabled() && got.Role == sessionmanager.RoleViewer, "reactivated as %+v", got)

	noErr(t, s.NoteAdminSignIn(ctx, "a-1", t0.Add(time.Hour)))
	noErr(t, s.NoteAdminSignIn(ctx, "a-1", t0), "an older sign-in does not move it back")
	got, err = s.AdminByID(ctx, "a-1")
	noErr(t, err)
	check(t, got.LastSignInAt.Equal(t0.Add(time.Hour)), "last sign-in %v", got.LastSignInAt)
}

// Two owners demote each other at once: one change must be refused, so an
// owner remains.
func testLastOwnerConcurrent(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-0", Email: "a0@example.com", CreatedAt: t0}))
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-1", Email: "a1@example.com", CreatedAt: t0}))
	ok := 0
	for i, err := range race(func(i int) error {
		id := []string{"a-0", "a-1"}[i%2]
		return second(s.SetAdminAccess(ctx, id, role(sessionmanager.RoleViewer)))
	}) {
		if err == nil {
			ok++
			continue
		}
		requireCode(t, err, sessionmanager.ECONFLICT, "racer %d", i)
	}
	list, err := s.ListAdmins(ctx)
	noErr(t, err)
	owners := 0
	for _, a := range list {
		if a.Role == sessionmanager.RoleOwner {
			owners++
		}
	}
	equal(t, 1, owners, "exactly one owner remains")
}

func role(r string) sessionmanager.AdminAccessChange {
	return sessionmanager.AdminAccessChange{Role: r}
}

func deactivate(at time.Time) sessionmanager.AdminAccessChange {
	return sessionmanager.AdminAccessChange{Deactivate: true, At: at}
}

// A role change and a deactivation of one admin, at the same moment, many
// times: each writes only its own column, so both always hold.
func testAdminAccessConcurrent(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-0", Email: "a0@example.com", CreatedAt: t0}))
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-1", Email: "a1@example.com", Role: sessionmanager.RoleAdmin, CreatedAt: t0}))
	for round := range 12 {
		want := []string{sessionmanager.RoleViewer, sessionmanager.RoleAdmin}[round%2]
		for i, err := range race(func(i int) error {
			if i%2 == 0 {
				return second(s.SetAdminAccess(ctx, "a-1", role(want)))
			}
			return second(s.SetAdminAccess(ctx, "a-1", deactivate(t0)))
		}) {
			noErr(t, err, "round %d racer %d", round, i)
		}
		got, err := s.AdminByID(ctx, "a-1")
		noErr(t, err)
		check(t, got.Role == want && got.Disabled(), "round %d: %s, disabled %v; want %s and disabled", round, got.Role, got.Disabled(), want)
		noErr(t, second(s.SetAdminAccess(ctx, "a-1", sessionmanager.AdminAccessChange{Reactivate: true})))
	}
}

func testAdminInvites(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-1", Email: "owner@example.com", CreatedAt: t0}))
	inv := &sessionmanager.AdminInvite{Hash: []byte("invite-hash"), Email: "new@example.com", Role: sessionmanager.RoleViewer,
		InvitedBy: "a-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	noErr(t, s.CreateAdminInvite(ctx, inv))
	requireCode(t, s.CreateAdminInvite(ctx, inv), sessionmanager.ECONFLICT, "the same hash again")
	noErr(t, s.CreateAdminInvite(ctx, &sessionmanager.AdminInvite{Hash: []byte("old"), Email: "old@example.com", Role: sessionmanager.RoleAdmin, InvitedBy: "a-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("old"), t0.Add(time.Minute))), sessionmanager.ENOTFOUND, "expired")
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("nope"), t0)), sessionmanager.ENOTFOUND, "unknown")
	won := 0
	for i, err := range race(func(int) error {
		got, err := s.UseAdminInvite(ctx, []byte("invite-hash"), t0.Add(time.Second))
		if err == nil && (got.Email != "new@example.com" || got.Role != sessionmanager.RoleViewer || got.InvitedBy != "a-1") {
			t.Errorf("invite read back as %+v", got)
		}
		return err
	}) {
		if err == nil {
			won++
			continue
		}
		requireCode(t, err, sessionmanager.ENOTFOUND, "racer %d", i)
	}
	equal(t, 1, won, "an invitation is used once")
}

func testAdminRecoveryCodes(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.SetAdminRecoveryCodes(ctx, "a-1", [][]byte{[]byte("c1"), []byte("c2")}))
	noErr(t, s.SetAdminRecoveryCodes(ctx, "a-2", [][]byte{[]byte("c1")}))
	requireCode(t, s.UseAdminRecoveryCode(ctx, "a-1", []byte("zz"), t0), sessionmanager.ENOTFOUND, "unknown code")
	won := 0
	for i, err := range race(func(int) error { return s.UseAdminRecoveryCode(ctx, "a-1", []byte("c1"), t0) }) {
		if err == nil {
			won++
			continue
		}
		requireCode(t, err, sessionmanager.ENOTFOUND, "racer %d", i)
	}
	equal(t, 1, won, "a recovery code is used once")
	noErr(t, s.UseAdminRecoveryCode(ctx, "a-2", []byte("c1"), t0), "another admin's code of the same hash is theirs")
	noErr(t, s.SetAdminRecoveryCodes(ctx, "a-1", nil))
	requireCode(t, s.UseAdminRecoveryCode(ctx, "a-1", []byte("c2"), t0), sessionmanager.ENOTFOUND, "codes removed")
}

// Invitations: a new one stored beside the one pending for its email, then
// replacing the older ones (or revoked by its hash alone when not sent);
// revocable by email or by inviter, refused once the inviter is
// deactivated or no longer an owner; of invitations for one email sent at
// the same time, exactly one stays.
func testAdminInvitesPending(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-1", Email: "owner@example.com", CreatedAt: t0}))
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-2", Email: "owner2@example.com", CreatedAt: t0}))
	newInvite := func(hash, email, by string, at time.Time) *sessionmanager.AdminInvite {
		return &sessionmanager.AdminInvite{Hash: []byte(hash), Email: email, Role: sessionmanager.RoleViewer, InvitedBy: by, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	invite := func(hash, email, by string, at time.Time) error {
		return s.CreateAdminInvite(ctx, newInvite(hash, email, by, at))
	}
	// replace stores an invitation, then revokes the older ones for its
	// email, as InviteAdmin once its email was sent.
	replace := func(inv *sessionmanager.AdminInvite) ([]*sessionmanager.AdminInvite, error) {
		if err := s.CreateAdminInvite(ctx, inv); err != nil {
			return nil, err
		}
		return s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{Email: inv.Email, ReplacedBy: inv, At: inv.CreatedAt, Reason: sessionmanager.InviteReplaced})
	}
	revoked, err := replace(newInvite("h1", "new@example.com", "a-1", t0))
	noErr(t, err)
	equal(t, 0, len(revoked), "the first invitation replaced one")
	// One not sent: stored beside h1, then revoked alone.
	noErr(t, invite("h0", "New@example.com", "a-1", t0.Add(time.Second)))
	list, err := s.ListAdminInvites(ctx, t0.Add(time.Second))
	noErr(t, err)
	equal(t, 2, len(list), "pending while the new one is being sent")
	revoked, err = s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{Hash: []byte("h0"), At: t0.Add(time.Second), Reason: sessionmanager.InviteNotSent})
	noErr(t, err)
	check(t, len(revoked) == 1 && string(revoked[0].Hash) == "h0" && revoked[0].RevokedReason == sessionmanager.InviteNotSent, "revoked by hash: %+v", revoked)
	requireCode(t, second(s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{At: t0, Reason: sessionmanager.InviteRevokedByOwner})), sessionmanager.EINVALID, "a revocation naming nothing")
	revoked, err = replace(newInvite("h2", "NEW@example.com", "a-2", t0.Add(time.Second)))
	noErr(t, err)
	check(t, len(revoked) == 1 && string(revoked[0].Hash) == "h1", "a second invitation for the email (other case) replaced %+v, want h1", revoked)
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("h1"), t0.Add(2*time.Second))), sessionmanager.ENOTFOUND, "the replaced link")
	old, err := s.AdminInvite(ctx, []byte("h1"))
	noErr(t, err)
	check(t, old.RevokedReason == sessionmanager.InviteReplaced && !old.RevokedAt.IsZero(), "replaced invitation read back as %+v", old)
	list, err = s.ListAdminInvites(ctx, t0.Add(2*time.Second))
	noErr(t, err)
	check(t, len(list) == 1 && string(list[0].Hash) == "h2" && list[0].InvitedBy == "a-2", "pending: %+v", list)
	list, err = s.ListAdminInvites(ctx, t0.Add(2*time.Hour))
	noErr(t, err)
	equal(t, 0, len(list), "an expired invitation is not pending")

	// Revoked by email, then by inviter.
	revoked, err = s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{Email: "New@Example.com", At: t0.Add(3 * time.Second), Reason: sessionmanager.InviteRevokedByOwner})
	noErr(t, err)
	check(t, len(revoked) == 1 && string(revoked[0].Hash) == "h2", "revoked %+v", revoked)
	revoked, err = s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{Email: "new@example.com", At: t0.Add(4 * time.Second), Reason: sessionmanager.InviteRevokedByOwner})
	noErr(t, err)
	equal(t, 0, len(revoked), "revoking again")
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("h2"), t0.Add(5*time.Second))), sessionmanager.ENOTFOUND, "a revoked link")
	noErr(t, invite("h3", "third@example.com", "a-2", t0))
	noErr(t, invite("h4", "fourth@example.com", "a-1", t0))
	revoked, err = s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{InvitedBy: "a-2", At: t0.Add(time.Second), Reason: sessionmanager.InviteInviterDeactivated})
	noErr(t, err)
	check(t, len(revoked) == 1 && string(revoked[0].Hash) == "h3" && revoked[0].RevokedReason == sessionmanager.InviteInviterDeactivated, "revoked by inviter: %+v", revoked)

	// An inviter deactivated (their invitations not yet revoked): refused.
	noErr(t, second(s.SetAdminAccess(ctx, "a-1", deactivate(t0.Add(time.Second)))))
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("h4"), t0.Add(2*time.Second))), sessionmanager.ENOTFOUND, "the link of a deactivated inviter")
	noErr(t, second(s.SetAdminAccess(ctx, "a-1", sessionmanager.AdminAccessChange{Reactivate: true})))
	got, err := s.UseAdminInvite(ctx, []byte("h4"), t0.Add(2*time.Second))
	noErr(t, err, "the inviter reactivated, a link not revoked works")
	equal(t, "fourth@example.com", got.Email)

	// An inviter no longer an owner (their invitations not yet revoked):
	// refused, for an owner's role and a lower one alike (only owners
	// invite); an owner again, their links work.
	noErr(t, invite("h5", "fifth@example.com", "a-2", t0))
	noErr(t, s.CreateAdminInvite(ctx, &sessionmanager.AdminInvite{Hash: []byte("h6"), Email: "sixth@example.com", Role: sessionmanager.RoleOwner,
		InvitedBy: "a-2", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	noErr(t, second(s.SetAdminAccess(ctx, "a-2", role(sessionmanager.RoleAdmin))))
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("h6"), t0.Add(time.Second))), sessionmanager.ENOTFOUND, "an owner invitation of a demoted owner")
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("h5"), t0.Add(time.Second))), sessionmanager.ENOTFOUND, "a viewer invitation of a demoted owner")
	noErr(t, second(s.SetAdminAccess(ctx, "a-2", role(sessionmanager.RoleOwner))))
	noErr(t, second(s.UseAdminInvite(ctx, []byte("h6"), t0.Add(time.Second))), "the inviter an owner again")
	noErr(t, second(s.UseAdminInvite(ctx, []byte("h5"), t0.Add(time.Second))), "the inviter an owner again")
	noErr(t, invite("h7", "seventh@example.com", "a-gone", t0))
	requireCode(t, second(s.UseAdminInvite(ctx, []byte("h7"), t0.Add(time.Second))), sessionmanager.ENOTFOUND, "the invitation of an unknown inviter")

	// Invitations for one email sent at the same time: exactly one pending
	// at the end, whatever order they finish in; the others replaced.
	for i, err := range race(func(i int) error {
		return second(replace(newInvite(fmt.Sprint("race-", i), "race@example.com", "a-2", t0.Add(time.Duration(i%3)*time.Millisecond))))
	}) {
		noErr(t, err, "racer %d", i)
	}
	list, err = s.ListAdminInvites(ctx, t0.Add(time.Second))
	noErr(t, err)
	n := 0
	for _, inv := range list {
		if inv.Email == "race@example.com" {
			n++
		}
	}
	equal(t, 1, n, "pending invitations for one email after a race")
	for i := range racers {
		inv, err := s.AdminInvite(ctx, []byte(fmt.Sprint("race-", i)))
		noErr(t, err)
		check(t, inv.Pending(t0.Add(time.Second)) || inv.RevokedReason == sessionmanager.InviteReplaced, "racer %d's invitation: %+v", i, inv)
	}
	// A replacement no longer pending itself revokes nothing.
	noErr(t, invite("late", "race@example.com", "a-2", t0.Add(time.Hour)))
	noErr(t, second(s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{Hash: []byte("late"), At: t0, Reason: sessionmanager.InviteNotSent})))
	revoked, err = s.RevokeAdminInvites(ctx, sessionmanager.AdminInviteRevocation{Email: "race@example.com", ReplacedBy: newInvite("late", "race@example.com", "a-2", t0), At: t0, Reason: sessionmanager.InviteReplaced})
	noErr(t, err)
	equal(t, 0, len(revoked), "revoked by a replacement itself revoked")
}
