package sessionmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// inviteBox is an in-memory AdminInviteMailer: the invitation's delivery
// is not under test here (the browser test sends it through real SMTP).
type inviteBox struct {
	mu   sync.Mutex
	sent []sm.AdminInviteMail
	// failing: the mails are kept but the sending fails (as an SMTP server
	// that dies at the end of the message).
	failing bool
}

func (b *inviteBox) SendAdminInvite(_ context.Context, m sm.AdminInviteMail) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, m)
	if b.failing {
		return errors.New("smtp: 451 try again later")
	}
	return nil
}

// TestInviteAcceptAndTwoStep: an owner's invitation names the owner and
// works once; the new admin has the invited role. The two-step sign-in
// asks for a code only with TOTP on, refuses a ticket past its deadline,
// and spends a recovery code once. Audited with the owner's email.
func TestInviteAcceptAndTwoStep(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			box := &inviteBox{}
			e := newEnv(t, k, func(c *sm.Config) { c.AdminInvites = box })
			owner := addTOTPAdmin(t, e)
			ctx := sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: owner.ID, Email: owner.Email})
			if _, err := e.m.InviteAdmin(ctx, "new@example.com", sm.RoleViewer, "https://sm.example/admin/invite"); err != nil {
				t.Fatal(err)
			}
			if len(box.sent) != 1 || box.sent[0].InvitedBy != owner.Email || !strings.HasPrefix(box.sent[0].URL, "https://sm.example/admin/invite?token=") {
				t.Fatalf("invitation sent: %+v", box.sent)
			}
			token := strings.TrimPrefix(box.sent[0].URL, "https://sm.example/admin/invite?token=")
			if _, err := e.m.AcceptAdminInvite(e.ctx, token, "short"); sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("weak password: %v", err)
			}
			a, err := e.m.AcceptAdminInvite(e.ctx, token, "a long new admin password")
			if err != nil || a.Role != sm.RoleViewer || a.Email != "new@example.com" {
				t.Fatalf("accept: %+v %v", a, err)
			}
			if _, err := e.m.AcceptAdminInvite(e.ctx, token, "a long new admin password"); sm.ErrorCode(err) != sm.ENOTFOUND {
				t.Fatalf("second use: %v", err)
			}
			if _, err := e.m.InviteAdmin(ctx, "NEW@example.com", sm.RoleAdmin, "https://sm.example/admin/invite"); sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("inviting an admin again: %v", err)
			}
			events, _, err := e.m.ListEvents(e.ctx, sm.EventFilter{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ev := range events {
				var d map[string]any
				_ = json.Unmarshal(ev.Data, &d)
				found = found || d["action"] == "admin.invite" && d["adminEmail"] == owner.Email
			}
			if !found {
				t.Error("no admin.invite event naming the owner's email")
			}

			// Without TOTP: one step.
			got, pending, err := e.m.BeginAdminSignIn(e.ctx, "new@example.com", "a long new admin password")
			if err != nil || got == nil || pending != "" {
				t.Fatalf("one-step sign-in: %v %q %v", got, pending, err)
			}
			// With TOTP: a ticket, then the code.
			got, pending, err = e.m.BeginAdminSignIn(e.ctx, adminEmail, adminPassword)
			if err != nil || got != nil || pending == "" {
				t.Fatalf("two-step sign-in: %v %q %v", got, pending, err)
			}
			if _, err := e.m.FinishAdminSignIn(e.ctx, pending, "000000"); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
				t.Fatalf("wrong code: %v", err)
			}
			if _, err := e.m.FinishAdminSignIn(e.ctx, pending+"x", totpAt(t, e.clock.Now())); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
				t.Fatalf("forged ticket: %v", err)
			}
			e.clock.Advance(6 * time.Minute)
			var se *sm.Error
			if _, err := e.m.FinishAdminSignIn(e.ctx, pending, totpAt(t, e.clock.Now())); !errors.As(err, &se) || se.Reason != sm.ReasonSignInExpired {
				t.Fatalf("expired ticket: %v", err)
			}
			_, pending, _ = e.m.BeginAdminSignIn(e.ctx, adminEmail, adminPassword)
			if got, err := e.m.FinishAdminSignIn(e.ctx, pending, totpAt(t, e.clock.Now())); err != nil || got.ID != owner.ID {
				t.Fatalf("right code: %v", err)
			}
		})
	}
}

// TestTOTPEnrolAndRecoveryCodes: enrolment needs the app's current code
// (then spent), gives ten recovery codes each good once, and turning TOTP
// off needs the password.
func TestTOTPEnrolAndRecoveryCodes(t *testing.T) {
	e := newEnv(t, storeKinds[0])
	hash, _ := cheapPasswords.Hash(adminPassword)
	a := &sm.Admin{ID: "a-2", Email: "two@example.com", PasswordHash: hash, CreatedAt: e.clock.Now()}
	if err := e.store.CreateAdmin(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	en, err := e.m.NewAdminTOTP(e.ctx, a.ID)
	if err != nil || !strings.HasPrefix(en.URI, "otpauth://totp/") {
		t.Fatalf("enrolment: %+v %v", en, err)
	}
	if _, err := e.m.EnableAdminTOTP(e.ctx, a.ID, en.Secret, "000000", ""); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("wrong code: %v", err)
	}
	code, _ := sm.TOTPCode(en.Secret, e.clock.Now())
	codes, err := e.m.EnableAdminTOTP(e.ctx, a.ID, en.Secret, code, "")
	if err != nil || len(codes) != 10 {
		t.Fatalf("enable: %v %v", codes, err)
	}
	_, pending, _ := e.m.BeginAdminSignIn(e.ctx, a.Email, adminPassword)
	if _, err := e.m.FinishAdminSignIn(e.ctx, pending, code); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("the enrolment's code signs in: %v", err)
	}
	if _, err := e.m.FinishAdminSignIn(e.ctx, pending, strings.ToUpper(codes[3])); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := e.m.FinishAdminSignIn(e.ctx, pending, codes[3]); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("recovery code used twice: %v", err)
	}
	if err := e.m.DisableAdminTOTP(e.ctx, a.ID, "wrong", ""); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("disable with a wrong password: %v", err)
	}
	if err := e.m.DisableAdminTOTP(e.ctx, a.ID, adminPassword, ""); err != nil {
		t.Fatal(err)
	}
	if got, pending, err := e.m.BeginAdminSignIn(e.ctx, a.Email, adminPassword); err != nil || got == nil || pending != "" {
		t.Fatalf("after disabling, one step: %v %q %v", got, pending, err)
	}
}

// TestRoleChangeAndDeactivationTogether: an owner changes an admin's role
// while another deactivates them, at the same moment, many times. Neither
// change may undo the other (each writes only its own column).
func TestRoleChangeAndDeactivationTogether(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t, k)
			for _, a := range []*sm.Admin{{ID: "a-owner", Email: "owner@example.com"}, {ID: "a-x", Email: "x@example.com", Role: sm.RoleAdmin}} {
				a.CreatedAt = e.clock.Now()
				if err := e.store.CreateAdmin(e.ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			for round := range 40 {
				want := []string{sm.RoleViewer, sm.RoleAdmin}[round%2]
				start := make(chan struct{})
				var wg sync.WaitGroup
				var roleErr, offErr error
				wg.Go(func() { <-start; _, roleErr = e.m.SetAdminRole(e.ctx, "a-x", want) })
				wg.Go(func() { <-start; _, offErr = e.m.SetAdminDisabled(e.ctx, "a-x", true) })
				close(start)
				wg.Wait()
				if roleErr != nil || offErr != nil {
					t.Fatalf("round %d: %v, %v", round, roleErr, offErr)
				}
				got, err := e.m.Admin(e.ctx, "a-x")
				if err != nil {
					t.Fatal(err)
				}
				if got.Role != want || !got.Disabled() {
					t.Fatalf("round %d: role %s, deactivated %v; want %s and deactivated", round, got.Role, got.Disabled(), want)
				}
				if _, err := e.m.SetAdminDisabled(e.ctx, "a-x", false); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestInvitesPendingRevocable: a second invitation for a pending email
// replaces the first (its link then says so); an owner revokes one; a
// deactivated or demoted inviter's invitations stop working and say why.
// Each revocation is audited.
func TestInvitesPendingRevocable(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			box := &inviteBox{}
			e := newEnv(t, k, func(c *sm.Config) { c.AdminInvites = box })
			owners := []*sm.Admin{{ID: "a-1", Email: "one@example.com"}, {ID: "a-2", Email: "two@example.com"}}
			for _, a := range owners {
				a.CreatedAt = e.clock.Now()
				if err := e.store.CreateAdmin(e.ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			as := func(a *sm.Admin) context.Context {
				return sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: a.ID, Email: a.Email})
			}
			const accept = "https://sm.example/admin/invite"
			invite := func(by *sm.Admin, email string) string {
				t.Helper()
				if _, err := e.m.InviteAdmin(as(by), email, sm.RoleViewer, accept); err != nil {
					t.Fatal(err)
				}
				return strings.TrimPrefix(box.sent[len(box.sent)-1].URL, accept+"?token=")
			}
			refused := func(token, reason string) {
				t.Helper()
				_, err := e.m.AcceptAdminInvite(e.ctx, token, "a long new admin password")
				var se *sm.Error
				if !errors.As(err, &se) || se.Code != sm.ENOTFOUND || se.Reason != reason {
					t.Fatalf("accept: %v, want ENOTFOUND %s", err, reason)
				}
			}

			first := invite(owners[0], "new@example.com")
			second := invite(owners[0], "New@example.com")
			refused(first, "invite_replaced")
			list, err := e.m.ListAdminInvites(e.ctx)
			if err != nil || len(list) != 1 || list[0].Email != "New@example.com" {
				t.Fatalf("pending after a replacement: %+v %v", list, err)
			}
			if err := e.m.RevokeAdminInvite(as(owners[1]), list[0].ID()); err != nil {
				t.Fatal(err)
			}
			refused(second, "invite_revoked")
			if err := e.m.RevokeAdminInvite(as(owners[1]), list[0].ID()); sm.ErrorCode(err) != sm.ENOTFOUND {
				t.Fatalf("revoking it again: %v", err)
			}

			byTwo := invite(owners[1], "later@example.com")
			if _, err := e.m.SetAdminDisabled(as(owners[0]), owners[1].ID, true); err != nil {
				t.Fatal(err)
			}
			if list, _ := e.m.ListAdminInvites(e.ctx); len(list) != 0 {
				t.Fatalf("a deactivated inviter's invitation is still pending: %+v", list)
			}
			refused(byTwo, "invite_inviter_deactivated")
			// Reactivated, the inviter's old link stays void.
			if _, err := e.m.SetAdminDisabled(as(owners[0]), owners[1].ID, false); err != nil {
				t.Fatal(err)
			}
			refused(byTwo, "invite_inviter_deactivated")

			// Demoted, an owner's invitations are revoked and say why.
			demoted := invite(owners[1], "demoted@example.com")
			if _, err := e.m.SetAdminRole(as(owners[0]), owners[1].ID, sm.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			if list, _ := e.m.ListAdminInvites(e.ctx); len(list) != 0 {
				t.Fatalf("a demoted inviter's invitation is still pending: %+v", list)
			}
			refused(demoted, "invite_inviter_demoted")

			events, _, err := e.m.ListEvents(e.ctx, sm.EventFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]int{}
			for _, ev := range events {
				var d map[string]any
				_ = json.Unmarshal(ev.Data, &d)
				if d["action"] == "admin.invite_revoked" {
					reasons[d["reason"].(string)]++
				}
			}
			if reasons[sm.InviteRevokedByOwner] != 1 || reasons[sm.InviteInviterDeactivated] != 1 || reasons[sm.InviteInviterDemoted] != 1 {
				t.Fatalf("admin.invite_revoked events by reason: %v", reasons)
			}
		})
	}
}

// failingInviteRevocation is a real store whose RevokeAdminInvites fails,
// as during a database hiccup.
type failingInviteRevocation struct{ storetest.Store }

func (failingInviteRevocation) RevokeAdminInvites(context.Context, sm.AdminInviteRevocation) ([]*sm.AdminInvite, error) {
	return nil, &sm.Error{Code: sm.EUNAVAILABLE, Message: "database unavailable; try again"}
}

// TestDeactivationEndsSessionsWhenRevokingInvitesFails: deactivating an
// admin ends their dashboard sessions even when revoking their invitations
// fails; the failure is still reported (the owner retries the rest).
func TestDeactivationEndsSessionsWhenRevokingInvitesFails(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t, k, func(c *sm.Config) { c.Store = failingInviteRevocation{c.Store.(storetest.Store)} })
			for _, a := range []*sm.Admin{{ID: "a-owner", Email: "owner@example.com"}, {ID: "a-x", Email: "x@example.com", Role: sm.RoleAdmin}} {
				a.CreatedAt = e.clock.Now()
				if err := e.store.CreateAdmin(e.ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			token, _, err := e.m.StartAdminSession(e.ctx, "a-x", sm.ClientInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.m.SetAdminDisabled(e.ctx, "a-x", true); sm.ErrorCode(err) != sm.EUNAVAILABLE {
				t.Fatalf("deactivate with the revocation failing: %v, want EUNAVAILABLE", err)
			}
			if _, err := e.m.CheckAdminSession(e.ctx, token); err == nil {
				t.Fatal("the deactivated admin's session still works")
			}
			if list, err := e.m.ListAdminSessions(e.ctx, "a-x"); err != nil || len(list) != 0 {
				t.Fatalf("the deactivated admin's sessions: %d, %v", len(list), err)
			}
		})
	}
}

// TestInviteNotSentKeepsTheEarlierOne: inviting an email again when the
// new invitation's email cannot be sent is an error saying so; the
// earlier invitation still works and the new one's link (should it have
// gone out) does not.
func TestInviteNotSentKeepsTheEarlierOne(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e, box, ctx := newOwnerEnv(t, k)
			const accept = "https://sm.example/admin/invite"
			if _, err := e.m.InviteAdmin(ctx, "new@example.com", sm.RoleViewer, accept); err != nil {
				t.Fatal(err)
			}
			box.failing = true
			e.clock.Advance(time.Second)
			_, err := e.m.InviteAdmin(ctx, "new@example.com", sm.RoleAdmin, accept)
			var se *sm.Error
			if !errors.As(err, &se) || se.Code != sm.EUNAVAILABLE || se.Reason != "smtp_failed" || !strings.Contains(se.Message, "earlier invitation") {
				t.Fatalf("invite with the email failing: %v, want EUNAVAILABLE smtp_failed naming the earlier invitation", err)
			}
			list, err := e.m.ListAdminInvites(e.ctx)
			if err != nil || len(list) != 1 || list[0].Role != sm.RoleViewer {
				t.Fatalf("pending after a failed send: %+v %v, want the earlier one only", list, err)
			}
			token := func(i int) string { return strings.TrimPrefix(box.sent[i].URL, accept+"?token=") }
			if _, err := e.m.AcceptAdminInvite(e.ctx, token(1), "a long new admin password"); !errors.As(err, &se) || se.Reason != "invite_not_sent" {
				t.Fatalf("the link of the invitation not sent: %v, want invite_not_sent", err)
			}
			if a, err := e.m.AcceptAdminInvite(e.ctx, token(0), "a long new admin password"); err != nil || a.Role != sm.RoleViewer {
				t.Fatalf("the earlier invitation after a failed re-invite: %+v %v", a, err)
			}
		})
	}
}

// TestInvitesSentTogether: invitations for one email sent at the same
// moment leave exactly one pending; a sender whose invitation another
// replaced meanwhile is told so (409 invite_conflict), never a success
// for a dead link.
func TestInvitesSentTogether(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e, _, ctx := newOwnerEnv(t, k)
			const n = 8
			invites := make([]*sm.AdminInvite, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					invites[i], errs[i] = e.m.InviteAdmin(ctx, "new@example.com", sm.RoleViewer, "https://sm.example/admin/invite")
				})
			}
			close(start)
			wg.Wait()
			list, err := e.m.ListAdminInvites(e.ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("pending after %d invitations sent together: %d %v, want 1", n, len(list), err)
			}
			for i, err := range errs {
				var se *sm.Error
				switch {
				case err == nil && string(invites[i].Hash) == string(list[0].Hash):
				case err == nil:
					// Replaced by one sent after it returned: its link says so.
					if got, err := e.store.AdminInvite(e.ctx, invites[i].Hash); err != nil || got.RevokedReason != sm.InviteReplaced {
						t.Fatalf("invitation %d succeeded, not pending: %+v %v", i, got, err)
					}
				case !errors.As(err, &se) || se.Code != sm.ECONFLICT || se.Reason != "invite_conflict":
					t.Fatalf("invitation %d: %v, want success or ECONFLICT invite_conflict", i, err)
				}
			}
		})
	}
}

// newOwnerEnv is a test Manager whose invitations go to box, with an owner
// (a-1) acting in ctx.
func newOwnerEnv(t *testing.T, k storeKind) (e *env, box *inviteBox, ctx context.Context) {
	box = &inviteBox{}
	e = newEnv(t, k, func(c *sm.Config) { c.AdminInvites = box })
	owner := &sm.Admin{ID: "a-1", Email: "one@example.com", CreatedAt: e.clock.Now()}
	if err := e.store.CreateAdmin(e.ctx, owner); err != nil {
		t.Fatal(err)
	}
	return e, box, sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: owner.ID, Email: owner.Email})
}
