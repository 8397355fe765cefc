package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/password"
)

// addAdmin stores another admin with role and returns a client signed in
// as them.
func (e *testEnv) addAdmin(email, role string) (*sm.Admin, *client) {
	e.t.Helper()
	hash, err := password.Default().Hash(adminPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	a := &sm.Admin{ID: sm.NewID(), Email: email, PasswordHash: hash, Role: role, CreatedAt: time.Now().UTC()}
	if err := e.store.CreateAdmin(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	c := e.client()
	resp, body := c.do(http.MethodPost, "/admin/login", url.Values{"email": {email}, "password": {adminPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %d %s", email, resp.StatusCode, body)
	}
	c.get("/admin/")
	return a, c
}

// TestRolesEnforced: what each role may do, decided by the one middleware
// (requireRole): a viewer reads but changes nothing but their own account;
// an admin changes things but not the team; an owner manages the team.
func TestRolesEnforced(t *testing.T) {
	e := newEnv(t)
	_, viewer := e.addAdmin("viewer@example.com", sm.RoleViewer)
	_, admin := e.addAdmin("ops@example.com", sm.RoleAdmin)
	owner := e.client()
	owner.signIn()
	cases := []struct {
		c            *client
		role         string
		method, path string
		form         url.Values
		forbidden    bool
	}{
		{viewer, "viewer", "GET", "/admin/sessions", nil, false},
		{viewer, "viewer", "GET", "/admin/tokens", nil, false},
		{viewer, "viewer", "POST", "/admin/sessions/terminate", url.Values{"id": {"x"}}, true},
		{viewer, "viewer", "POST", "/admin/users/x/block", nil, true},
		{viewer, "viewer", "POST", "/admin/settings/policy", nil, true},
		{viewer, "viewer", "POST", "/admin/tokens", url.Values{"name": {"t"}, "scope": {"read"}}, true},
		{viewer, "viewer", "GET", "/admin/team", nil, true},
		{viewer, "viewer", "POST", "/admin/account/password", url.Values{"current": {"wrong"}, "password": {"x"}, "again": {"x"}}, false},
		{admin, "admin", "GET", "/admin/team", nil, true},
		{admin, "admin", "POST", "/admin/team/invite", url.Values{"email": {"a@example.com"}, "role": {"owner"}}, true},
		{admin, "admin", "POST", "/admin/tokens", url.Values{"name": {"ci"}, "scope": {"write"}}, false},
		{owner, "owner", "GET", "/admin/team", nil, false},
	}
	for _, tc := range cases {
		var resp *http.Response
		if tc.method == "GET" {
			resp, _ = tc.c.get(tc.path)
		} else {
			resp, _ = tc.c.post(tc.path, tc.form)
		}
		if got := resp.StatusCode == http.StatusForbidden; got != tc.forbidden {
			t.Errorf("%s %s %s: %d, forbidden want %v", tc.role, tc.method, tc.path, resp.StatusCode, tc.forbidden)
		}
	}
	// A viewer's pages carry the class that hides write controls.
	if _, body := viewer.get("/admin/sessions"); !strings.Contains(body, "role-viewer") || strings.Contains(body, `href="/admin/team"`) {
		t.Error("a viewer's page is not marked read-only, or links the Team page")
	}
}

// TestLastOwnerKept: the only owner can neither demote nor deactivate
// themselves; with a second owner they can, and a deactivated admin's
// sessions end and their sign-in is refused.
func TestLastOwnerKept(t *testing.T) {
	e := newEnv(t)
	owner := e.client()
	owner.signIn()
	resp, body := owner.post("/admin/team/"+e.admin.ID+"/role", url.Values{"role": {sm.RoleAdmin}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "last owner") {
		t.Fatalf("demote the last owner: %d", resp.StatusCode)
	}
	if resp, _ := owner.post("/admin/team/"+e.admin.ID+"/deactivate", nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("deactivate the last owner: %d", resp.StatusCode)
	}
	if resp, _ := owner.post("/admin/team/"+e.admin.ID+"/role", url.Values{"role": {"root"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown role: %d, want 400", resp.StatusCode)
	}
	other, otherClient := e.addAdmin("second@example.com", sm.RoleOwner)
	if resp, _ := owner.post("/admin/team/"+other.ID+"/deactivate", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deactivate another owner: %d", resp.StatusCode)
	}
	if resp, _ := otherClient.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a deactivated admin's session still works: %d", resp.StatusCode)
	}
	resp, _ = e.client().do(http.MethodPost, "/admin/login", url.Values{"email": {other.Email}, "password": {adminPassword}}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a deactivated admin signs in: %d", resp.StatusCode)
	}
	// Now the second owner is inactive: the first is the last again.
	if resp, _ := owner.post("/admin/team/"+e.admin.ID+"/role", url.Values{"role": {sm.RoleViewer}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("demote the last active owner: %d", resp.StatusCode)
	}
}

// TestInviteNeedsSMTP: without a mailer the invitation is refused with the
// field named, not a 500.
func TestInviteNeedsSMTP(t *testing.T) {
	e := newEnv(t)
	owner := e.client()
	owner.signIn()
	resp, body := owner.post("/admin/team/invite", url.Values{"email": {"new@example.com"}, "role": {sm.RoleViewer}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "SMTP_URL") {
		t.Fatalf("invite without SMTP: %d", resp.StatusCode)
	}
	if resp, _ := owner.post("/admin/team/invite", url.Values{"email": {"not an email"}, "role": {sm.RoleViewer}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad email: %d", resp.StatusCode)
	}
	if resp, _ := e.client().do(http.MethodPost, "/admin/invite", url.Values{"token": {"forged"}, "password": {"a long enough password"}, "again": {"a long enough password"}}, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("forged invitation: %d, want 404", resp.StatusCode)
	}
}

// inviteMailer keeps the invitations in memory: their delivery through
// SMTP is the browser test's (e2e); this page only lists and revokes.
type inviteMailer struct{ sent []sm.AdminInviteMail }

func (m *inviteMailer) SendAdminInvite(_ context.Context, mail sm.AdminInviteMail) error {
	m.sent = append(m.sent, mail)
	return nil
}

// TestPendingInvitesListedAndRevoked: the Team page lists a pending
// invitation with its inviter; Revoke stops its link (the invite page then
// says it was revoked) and takes it off the list.
func TestPendingInvitesListedAndRevoked(t *testing.T) {
	box := &inviteMailer{}
	e := newEnvConfig(t, func(c *sm.Config) { c.AdminInvites = box })
	owner := e.client()
	owner.signIn()
	if resp, _ := owner.post("/admin/team/invite", url.Values{"email": {"new@example.com"}, "role": {sm.RoleViewer}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d", resp.StatusCode)
	}
	_, body := owner.get("/admin/team")
	if !strings.Contains(body, `data-invite="new@example.com"`) || !strings.Contains(body, adminEmail) {
		t.Fatal("the pending invitation (and its inviter) is not listed")
	}
	id := listedInviteID(t, body)
	if resp, _ := owner.post("/admin/team/invites/revoke", url.Values{"id": {id}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, body := owner.get("/admin/team"); strings.Contains(body, `data-invite="new@example.com"`) {
		t.Fatal("a revoked invitation is still listed")
	}
	if resp, body := owner.post("/admin/team/invites/revoke", url.Values{"id": {id}}); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no longer pending") {
		t.Fatalf("revoke again: %d", resp.StatusCode)
	}
	token := strings.TrimPrefix(box.sent[0].URL[strings.Index(box.sent[0].URL, "?"):], "?token=")
	resp, body := e.client().do(http.MethodPost, "/admin/invite", url.Values{"token": {token}, "password": {"a long enough password"}, "again": {"a long enough password"}}, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "was revoked") {
		t.Fatalf("accept a revoked invitation: %d", resp.StatusCode)
	}
}

// TestInviteLinkWarning: without SM_PUBLIC_URL the Team page says, by the
// invitation form, that links lead to the address the owner uses now.
func TestInviteLinkWarning(t *testing.T) {
	for _, public := range []string{"", "https://sm.example.com"} {
		e := newEnv(t, func(d *Deps) { d.PublicURL = public })
		owner := e.client()
		owner.signIn()
		_, body := owner.get("/admin/team")
		if got := strings.Contains(body, `id="invite-link-warning"`); got != (public == "") {
			t.Errorf("SM_PUBLIC_URL %q: warning shown %v", public, got)
		}
		if public == "" && !strings.Contains(body, "<code>"+e.srv.URL+"</code>") {
			t.Errorf("the warning does not name the address links lead to (%s)", e.srv.URL)
		}
	}
}

// TestRevokeNamesTheInvitation: Revoke stops the invitation the page
// listed, not whichever is pending for its email now: after the email was
// invited again, revoking the listed (since replaced) invitation is refused
// as no longer pending and the newer one stays.
func TestRevokeNamesTheInvitation(t *testing.T) {
	box := &inviteMailer{}
	e := newEnvConfig(t, func(c *sm.Config) { c.AdminInvites = box })
	owner := e.client()
	owner.signIn()
	invite := func(role string) {
		t.Helper()
		if resp, _ := owner.post("/admin/team/invite", url.Values{"email": {"new@example.com"}, "role": {role}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("invite: %d", resp.StatusCode)
		}
	}
	invite(sm.RoleViewer)
	_, page := owner.get("/admin/team")
	id := listedInviteID(t, page)
	invite(sm.RoleAdmin)
	resp, body := owner.post("/admin/team/invites/revoke", url.Values{"id": {id}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no longer pending") {
		t.Fatalf("revoke the replaced invitation: %d, want 404 saying it is no longer pending", resp.StatusCode)
	}
	list, err := e.manager.ListAdminInvites(context.Background())
	if err != nil || len(list) != 1 || list[0].Role != sm.RoleAdmin {
		t.Fatalf("pending after revoking the replaced one: %+v %v, want the newer (admin) one", list, err)
	}
	if resp, body := owner.post("/admin/team/invites/revoke", url.Values{"id": {"00ff"}}); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "No such invitation") {
		t.Fatalf("revoke an unknown id: %d", resp.StatusCode)
	}
	if resp, _ := owner.post("/admin/team/invites/revoke", url.Values{"id": {"not hex"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("revoke a malformed id: %d, want 400", resp.StatusCode)
	}
}

// listedInviteID is the id the Team page's first Revoke form posts.
func listedInviteID(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="id" value="`)
	if !ok {
		t.Fatal("no Revoke form naming an invitation")
	}
	id, _, _ := strings.Cut(rest, `"`)
	return id
}
