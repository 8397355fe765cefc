package sessionmanager

import (
	"context"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Admin roles. Every dashboard action and admin API route needs one
// permission (PermRead, PermWrite, PermTeam); RoleAllows is the one place
// that says which role grants which.
//
// The admin API's token scopes map onto the roles: a read token acts as a
// viewer, a write token as an admin (it may also call the service routes);
// a service token only starts sessions and introspects. Managing the team
// (PermTeam) is the owner's, in the dashboard only: no token scope grants it.
const (
	// RoleOwner does everything, including managing the team.
	RoleOwner = "owner"
	// RoleAdmin reads and changes sessions, users, settings, rules, tokens.
	RoleAdmin = "admin"
	// RoleViewer only reads.
	RoleViewer = "viewer"
)

// Permissions an admin action needs.
const (
	PermRead  = ScopeRead
	PermWrite = ScopeWrite
	// PermTeam: invite admins, change their roles, deactivate them.
	PermTeam = "team"
)

// Roles lists the roles, most powerful first.
var Roles = []string{RoleOwner, RoleAdmin, RoleViewer}

// RoleAllows reports whether role grants perm.
func RoleAllows(role, perm string) bool {
	switch role {
	case RoleOwner:
		return perm == PermRead || perm == PermWrite || perm == PermTeam
	case RoleAdmin:
		return perm == PermRead || perm == PermWrite
	case RoleViewer:
		return perm == PermRead
	}
	return false
}

// ScopeRole is the role an API token of scope acts as ("" for service,
// which is no admin role).
func ScopeRole(scope string) string {
	switch scope {
	case ScopeRead:
		return RoleViewer
	case ScopeWrite:
		return RoleAdmin
	}
	return ""
}

func validRole(role string) bool {
	return role == RoleOwner || role == RoleAdmin || role == RoleViewer
}

// AdminInvite is a single-use, expiring link that lets email become an
// admin with Role by choosing a password. Only the token's hash is stored.
type AdminInvite struct {
	Hash      []byte
	Email     string
	Role      string
	InvitedBy string // the inviting admin's id
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// AdminInviteMail is one invitation email.
type AdminInviteMail struct {
	To        string
	URL       string
	Role      string
	InvitedBy string // the inviting admin's email
	ExpiresAt time.Time
}

// AdminInviteMailer sends invitation emails (SMTP in the server).
type AdminInviteMailer interface {
	SendAdminInvite(ctx context.Context, m AdminInviteMail) error
}

// AdminInviteTTL is how long an invitation link works.
const AdminInviteTTL = 72 * time.Hour

// AdminAccessChange is one change to an admin's access. Only what it names
// is written.
type AdminAccessChange struct {
	// Role is the new role; "" keeps the stored one.
	Role string
	// Deactivate deactivates at At (an admin already deactivated keeps
	// their time); Reactivate clears it. Neither: unchanged.
	Deactivate, Reactivate bool
	At                     time.Time
}

// TeamStore keeps the admins' roles and invitations.
type TeamStore interface {
	// ListAdmins lists every admin, oldest first.
	ListAdmins(ctx context.Context) ([]*Admin, error)
	// SetAdminAccess applies one change to an admin's role or deactivation
	// and returns the admin as stored after it. It writes only what the
	// change names, so a role change and a deactivation of the same admin
	// at the same moment both hold. Atomic with the rule that at least one
	// active owner stays: a change that would leave none is ECONFLICT.
	// ENOTFOUND for an unknown id.
	SetAdminAccess(ctx context.Context, id string, ch AdminAccessChange) (*Admin, error)
	// CreateAdminInvite stores an invitation.
	CreateAdminInvite(ctx context.Context, inv *AdminInvite) error
	// UseAdminInvite marks the unused, unexpired invitation with this hash
	// used at now and returns it; of concurrent calls one succeeds, the
	// others (and unknown, used or expired ones) get ENOTFOUND.
	UseAdminInvite(ctx context.Context, hash []byte, now time.Time) (*AdminInvite, error)
}

// TeamAdmin is what an owner does with the team of admins.
type TeamAdmin interface {
	// ListAdmins lists every admin.
	ListAdmins(ctx context.Context) ([]*Admin, error)
	// InviteAdmin emails a single-use link (acceptURL?token=...) that
	// lets email join with role.
	InviteAdmin(ctx context.Context, email, role, acceptURL string) (*AdminInvite, error)
	// AcceptAdminInvite creates the invited admin with password.
	AcceptAdminInvite(ctx context.Context, token, password string) (*Admin, error)
	// SetAdminRole changes an admin's role; the last owner stays owner.
	SetAdminRole(ctx context.Context, id, role string) (*Admin, error)
	// SetAdminDisabled deactivates (ending their sessions) or reactivates
	// an admin; the last active owner cannot be deactivated.
	SetAdminDisabled(ctx context.Context, id string, disabled bool) (*Admin, error)
	// SignOutAdmin ends every dashboard session of an admin and returns
	// how many ended.
	SignOutAdmin(ctx context.Context, id string) (int, error)
}

var _ TeamAdmin = (*Manager)(nil)

func (m *Manager) teamStore() (TeamStore, error) {
	st, ok := m.store.(TeamStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no admin team")
	}
	return st, nil
}

// ListAdmins lists every admin, oldest first.
func (m *Manager) ListAdmins(ctx context.Context) ([]*Admin, error) {
	st, err := m.teamStore()
	if err != nil {
		return nil, err
	}
	return st.ListAdmins(ctx)
}

// InviteAdmin stores an invitation and emails its link. The token exists
// in clear only in the email.
func (m *Manager) InviteAdmin(ctx context.Context, email, role, acceptURL string) (*AdminInvite, error) {
	st, err := m.teamStore()
	if err != nil {
		return nil, err
	}
	email = strings.TrimSpace(email)
	bad := map[string]string{}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 320 {
		bad["email"] = "must be an email address"
	}
	if !validRole(role) {
		bad["role"] = "must be owner, admin or viewer"
	}
	if len(bad) > 0 {
		return nil, InvalidFields(bad)
	}
	if m.cfg.AdminInvites == nil {
		return nil, &Error{Code: EINVALID, Message: "Invitations are sent by email: set SMTP_URL", Reason: "smtp_required",
			Fields: map[string]string{"email": "cannot be sent: no SMTP server is configured (SMTP_URL)"}}
	}
	if lk, err := m.adminLookup(); err != nil {
		return nil, err
	} else if _, err := lk.AdminByEmail(ctx, email); err == nil {
		return nil, InvalidFields(map[string]string{"email": "is already an admin"})
	} else if !IsNotFound(err) {
		return nil, err
	}
	token, hash, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	actor := ActorFrom(ctx)
	now := m.clock.Now()
	inv := &AdminInvite{Hash: hash, Email: email, Role: role, InvitedBy: actor.ID, CreatedAt: now, ExpiresAt: now.Add(AdminInviteTTL)}
	if err := st.CreateAdminInvite(ctx, inv); err != nil {
		return nil, err
	}
	link := acceptURL + "?" + url.Values{"token": {token}}.Encode()
	if err := m.cfg.AdminInvites.SendAdminInvite(ctx, AdminInviteMail{To: email, URL: link, Role: role, InvitedBy: actor.Email, ExpiresAt: inv.ExpiresAt}); err != nil {
		m.log.Error("admin invitation not sent", "err", err)
		return nil, &Error{Code: EUNAVAILABLE, Message: "The invitation email could not be sent; try again later", Reason: "smtp_failed"}
	}
	m.auditAdmin(ctx, "admin.invite", "", "", map[string]any{"email": email, "role": role})
	return inv, nil
}

// AcceptAdminInvite spends an invitation and creates its admin with
// password. An unknown, used or expired link is ENOTFOUND.
func (m *Manager) AcceptAdminInvite(ctx context.Context, token, password string) (*Admin, error) {
	st, err := m.teamStore()
	if err != nil {
		return nil, err
	}
	accounts, ok := m.store.(AdminStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store keeps no admin accounts")
	}
	if err := m.validatePassword(password); err != nil {
		return nil, err
	}
	// The link is checked and spent before the password is hashed: the page
	// needs no sign-in, and a hash (Argon2id) for any made-up token would
	// be free work on the hashing slots real sign-ins wait for.
	if !m.cfg.Secrets.ValidToken(token) {
		return nil, errInvite()
	}
	now := m.clock.Now()
	inv, err := st.UseAdminInvite(ctx, m.cfg.Secrets.LookupHash(token), now)
	if IsNotFound(err) {
		return nil, errInvite()
	} else if err != nil {
		return nil, err
	}
	hash, err := m.cfg.Passwords.Hash(password)
	if err != nil {
		return nil, err
	}
	a := &Admin{ID: newID(), Email: inv.Email, PasswordHash: hash, Role: inv.Role, CreatedAt: now}
	if err := accounts.CreateAdmin(ctx, a); err != nil {
		return nil, err
	}
	actor := Actor{Type: ActorAdmin, ID: a.ID, Email: a.Email, IP: ActorFrom(ctx).IP}
	m.auditAdmin(WithActor(ctx, actor), "admin.invite_accepted", "", "", map[string]any{"adminId": a.ID, "role": a.Role, "invitedBy": inv.InvitedBy})
	return a, nil
}

func errInvite() error {
	return &Error{Code: ENOTFOUND, Message: "This invitation link is unknown, used or expired; ask for a new one", Reason: "invite_invalid"}
}

// SetAdminRole changes an admin's role.
func (m *Manager) SetAdminRole(ctx context.Context, id, role string) (*Admin, error) {
	if !validRole(role) {
		return nil, InvalidFields(map[string]string{"role": "must be owner, admin or viewer"})
	}
	return m.setAdminAccess(ctx, id, AdminAccessChange{Role: role}, "admin.role", map[string]any{"role": role})
}

// SetAdminDisabled deactivates or reactivates an admin; deactivating ends
// every dashboard session of theirs on every instance.
func (m *Manager) SetAdminDisabled(ctx context.Context, id string, disabled bool) (*Admin, error) {
	if !disabled {
		return m.setAdminAccess(ctx, id, AdminAccessChange{Reactivate: true}, "admin.reactivate", nil)
	}
	a, err := m.setAdminAccess(ctx, id, AdminAccessChange{Deactivate: true, At: m.clock.Now()}, "admin.deactivate", nil)
	if err != nil {
		return nil, err
	}
	if _, err := m.EndAdminSessions(ctx, id, "", EndManual); err != nil {
		return nil, err
	}
	return a, nil
}

// setAdminAccess applies a change to an admin's role or deactivation, under
// the store's last-owner rule, and audits it. The store writes only the
// column the change names (no read-modify-write here), so concurrent
// changes of different columns do not undo each other.
func (m *Manager) setAdminAccess(ctx context.Context, id string, ch AdminAccessChange, action string, details map[string]any) (*Admin, error) {
	st, err := m.teamStore()
	if err != nil {
		return nil, err
	}
	a, err := st.SetAdminAccess(ctx, id, ch)
	if err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, &Error{Code: ECONFLICT, Message: "The last owner cannot be removed, demoted or deactivated", Reason: "last_owner"}
		}
		return nil, err
	}
	if details == nil {
		details = map[string]any{}
	}
	details["adminId"], details["email"] = a.ID, a.Email
	m.auditAdmin(ctx, action, "", "", details)
	return a, nil
}

// SignOutAdmin ends every dashboard session of an admin.
func (m *Manager) SignOutAdmin(ctx context.Context, id string) (int, error) {
	if _, err := m.Admin(ctx, id); err != nil {
		return 0, err
	}
	return m.EndAdminSessions(ctx, id, "", EndManual)
}
