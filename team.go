package sessionmanager

import (
	"context"
	"encoding/hex"
	"errors"
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
	// RevokedAt is when the invitation stopped working before its use,
	// for RevokedReason (InviteRevoked...).
	RevokedAt     time.Time
	RevokedReason string
}

// Why an invitation was revoked (AdminInvite.RevokedReason).
const (
	// InviteRevokedByOwner: an owner revoked it on the Team page.
	InviteRevokedByOwner = "revoked"
	// InviteReplaced: a newer invitation for the same email replaced it
	// (once that one's email was sent).
	InviteReplaced = "replaced"
	// InviteNotSent: its email could not be sent (its link, should it
	// have gone out after all, does not work; the earlier one still does).
	InviteNotSent = "not_sent"
	// InviteInviterDeactivated: the admin who sent it was deactivated.
	InviteInviterDeactivated = "inviter_deactivated"
	// InviteInviterDemoted: the admin who sent it is no longer an owner
	// (only owners invite).
	InviteInviterDemoted = "inviter_demoted"
)

// ID names the invitation on the Team page (for RevokeAdminInvite): its
// token's lookup hash in hex, which does not accept it (that takes the
// token itself).
func (inv *AdminInvite) ID() string { return hex.EncodeToString(inv.Hash) }

// Pending reports whether the invitation can still be accepted at now (its
// inviter's state aside).
func (inv *AdminInvite) Pending(now time.Time) bool {
	return inv.UsedAt.IsZero() && inv.RevokedAt.IsZero() && now.Before(inv.ExpiresAt)
}

// AdminInviteRevocation names the pending invitations to revoke: the one
// with Hash, those for Email (compared case-insensitively), or those
// InvitedBy sent (the first of the three set).
type AdminInviteRevocation struct {
	Hash  []byte
	Email string
	// ReplacedBy, with Email: the invitations other than this one, and
	// only while this one is pending (none otherwise), atomically: of
	// invitations for one email sent at the same moment exactly one stays
	// pending.
	ReplacedBy *AdminInvite
	InvitedBy  string
	At         time.Time
	Reason     string
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
	// CreateAdminInvite stores a pending invitation, beside any other
	// pending for its email: InviteAdmin revokes those (ReplacedBy) only
	// once the new one's email was sent. ECONFLICT for a hash stored
	// already.
	CreateAdminInvite(ctx context.Context, inv *AdminInvite) error
	// ListAdminInvites lists the invitations pending at now (not used,
	// revoked nor expired), newest first.
	ListAdminInvites(ctx context.Context, now time.Time) ([]*AdminInvite, error)
	// RevokeAdminInvites revokes the pending (not used nor revoked)
	// invitations r names and returns them. A revocation that names none
	// is EINVALID.
	RevokeAdminInvites(ctx context.Context, r AdminInviteRevocation) ([]*AdminInvite, error)
	// AdminInvite returns the invitation with this hash, whatever its
	// state, or ENOTFOUND.
	AdminInvite(ctx context.Context, hash []byte) (*AdminInvite, error)
	// UseAdminInvite marks the invitation with this hash used at now and
	// returns it, when it is pending and its inviter is still allowed to
	// invite: an owner, not deactivated (whatever the role invited: only
	// owners manage the team). Of concurrent calls one succeeds, the others
	// (and unknown, used, revoked or expired ones, or one whose inviter is
	// unknown, deactivated or no longer an owner) get ENOTFOUND.
	UseAdminInvite(ctx context.Context, hash []byte, now time.Time) (*AdminInvite, error)
}

// TeamAdmin is what an owner does with the team of admins.
type TeamAdmin interface {
	// ListAdmins lists every admin.
	ListAdmins(ctx context.Context) ([]*Admin, error)
	// InviteAdmin emails a single-use link (acceptURL?token=...) that
	// lets email join with role. Once it was sent, an invitation still
	// pending for email is replaced: its link stops working. When the
	// email cannot be sent, the new invitation is void and the earlier one
	// keeps working (EUNAVAILABLE, smtp_failed).
	InviteAdmin(ctx context.Context, email, role, acceptURL string) (*AdminInvite, error)
	// ListAdminInvites lists the pending invitations, newest first.
	ListAdminInvites(ctx context.Context) ([]*AdminInvite, error)
	// RevokeAdminInvite revokes the invitation with this id
	// (AdminInvite.ID), that one only; its link stops working. EINVALID
	// for a malformed id, ENOTFOUND for an unknown one or one no longer
	// pending (used, revoked or replaced).
	RevokeAdminInvite(ctx context.Context, id string) error
	// AcceptAdminInvite creates the invited admin with password.
	AcceptAdminInvite(ctx context.Context, token, password string) (*Admin, error)
	// SetAdminRole changes an admin's role; the last owner stays owner.
	// An owner made admin or viewer has their invitations revoked.
	SetAdminRole(ctx context.Context, id, role string) (*Admin, error)
	// SetAdminDisabled deactivates (ending their sessions and revoking
	// the invitations they sent) or reactivates an admin; the last active
	// owner cannot be deactivated.
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
		// The new link may have gone out all the same (a server that
		// failed at the end of the message): it must not work. The earlier
		// invitation was not touched.
		// (Even when the send failed because the request was cancelled.)
		if err := m.revokeInvites(context.WithoutCancel(ctx), st, AdminInviteRevocation{Hash: inv.Hash, At: m.clock.Now(), Reason: InviteNotSent}); err != nil {
			m.log.Error("unsent admin invitation not revoked", "err", err)
		}
		return nil, &Error{Code: EUNAVAILABLE, Reason: "smtp_failed",
			Message: "The invitation email could not be sent, so no new invitation was made; try again later. An earlier invitation to this email, if any, still works"}
	}
	// Sent: now it replaces the others pending for the email.
	replaced, err := st.RevokeAdminInvites(ctx, AdminInviteRevocation{Email: email, ReplacedBy: inv, At: m.clock.Now(), Reason: InviteReplaced})
	m.auditAdmin(ctx, "admin.invite", "", "", map[string]any{"email": email, "role": role, "replaced": len(replaced) > 0})
	if err != nil {
		m.log.Error("replaced admin invitations not revoked", "err", err)
		return nil, &Error{Code: EUNAVAILABLE, Reason: "invite_replace_failed",
			Message: "The invitation was sent, but an earlier invitation to this email may still work: revoke it under Pending invitations"}
	}
	if len(replaced) == 0 {
		// Nothing replaced: none was pending, or another invitation for
		// the email, sent at the same moment, replaced this one.
		if got, err := st.AdminInvite(ctx, inv.Hash); err != nil {
			return nil, err
		} else if !got.RevokedAt.IsZero() {
			return nil, &Error{Code: ECONFLICT, Reason: "invite_conflict",
				Message: "Another invitation to this email was sent at the same moment and replaced this one: the link of that email is the one that works",
				Fields:  map[string]string{"email": "was invited by someone else at the same moment"}}
		}
	}
	return inv, nil
}

// ListAdminInvites lists the pending invitations, newest first.
func (m *Manager) ListAdminInvites(ctx context.Context) ([]*AdminInvite, error) {
	st, err := m.teamStore()
	if err != nil {
		return nil, err
	}
	return st.ListAdminInvites(ctx, m.clock.Now())
}

// RevokeAdminInvite revokes the invitation with this id, if pending.
func (m *Manager) RevokeAdminInvite(ctx context.Context, id string) error {
	st, err := m.teamStore()
	if err != nil {
		return err
	}
	hash, err := hex.DecodeString(strings.TrimSpace(id))
	if err != nil || len(hash) == 0 || len(hash) > 64 {
		return InvalidFields(map[string]string{"id": "is not an invitation's id; reload the page"})
	}
	revoked, err := st.RevokeAdminInvites(ctx, AdminInviteRevocation{Hash: hash, At: m.clock.Now(), Reason: InviteRevokedByOwner})
	if err != nil {
		return err
	}
	if len(revoked) == 0 {
		if _, err := st.AdminInvite(ctx, hash); IsNotFound(err) {
			return &Error{Code: ENOTFOUND, Message: "No such invitation; reload the page", Reason: "invite_unknown"}
		} else if err != nil {
			return err
		}
		return &Error{Code: ENOTFOUND, Message: "This invitation is no longer pending (used, revoked or replaced by a newer one); reload the page", Reason: "invite_not_pending"}
	}
	m.auditRevokedInvites(ctx, revoked, InviteRevokedByOwner)
	return nil
}

// auditRevokedInvites records each revoked invitation.
func (m *Manager) auditRevokedInvites(ctx context.Context, revoked []*AdminInvite, reason string) {
	for _, inv := range revoked {
		m.auditAdmin(ctx, "admin.invite_revoked", "", "", map[string]any{"email": inv.Email, "role": inv.Role, "invitedBy": inv.InvitedBy, "reason": reason})
	}
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
		return nil, m.whyInviteRefused(ctx, st, m.cfg.Secrets.LookupHash(token), now)
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

// whyInviteRefused explains a link UseAdminInvite refused: revoked (by an
// owner, by a newer invitation, or because its inviter was deactivated),
// else unknown, used or expired.
func (m *Manager) whyInviteRefused(ctx context.Context, st TeamStore, hash []byte, now time.Time) error {
	inv, err := st.AdminInvite(ctx, hash)
	if IsNotFound(err) {
		return errInvite()
	} else if err != nil {
		return err
	}
	reason := inv.RevokedReason
	if inv.Pending(now) {
		// Pending, so refused for its inviter: deactivated or demoted a
		// moment ago, before their invitations were revoked.
		if reason, err = m.inviterRefusal(ctx, inv.InvitedBy); err != nil {
			return err
		}
	} else if !inv.UsedAt.IsZero() || inv.RevokedAt.IsZero() {
		return errInvite()
	}
	msg := map[string]string{
		InviteRevokedByOwner:     "This invitation was revoked; ask an owner for a new one",
		InviteReplaced:           "A newer invitation was sent to this email; use the link of the latest email",
		InviteInviterDeactivated: "The admin who sent this invitation was deactivated, so it no longer works; ask an owner for a new one",
		InviteInviterDemoted:     "The admin who sent this invitation is no longer an owner, so it no longer works; ask an owner for a new one",
		InviteNotSent:            "The email of this invitation could not be sent, so its link does not work; use the link of an earlier invitation email or ask an owner for a new one",
	}[reason]
	if msg == "" {
		return errInvite()
	}
	return &Error{Code: ENOTFOUND, Message: msg, Reason: "invite_" + reason}
}

// inviterRefusal says why the store refuses the invitations of inviter:
// deactivated, no longer an owner, or "" (unknown, or allowed).
func (m *Manager) inviterRefusal(ctx context.Context, inviter string) (string, error) {
	a, err := m.Admin(ctx, inviter)
	switch {
	case IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	case a.Disabled():
		return InviteInviterDeactivated, nil
	case a.Role != RoleOwner:
		return InviteInviterDemoted, nil
	}
	return "", nil
}

// SetAdminRole changes an admin's role.
func (m *Manager) SetAdminRole(ctx context.Context, id, role string) (*Admin, error) {
	if !validRole(role) {
		return nil, InvalidFields(map[string]string{"role": "must be owner, admin or viewer"})
	}
	a, err := m.setAdminAccess(ctx, id, AdminAccessChange{Role: role}, "admin.role", map[string]any{"role": role})
	if err != nil || role == RoleOwner {
		return a, err
	}
	// No longer an owner, they may invite no one: their invitations go (an
	// accept in between is refused by the store, which checks the inviter).
	if err := m.revokeInvitesOf(ctx, id, m.clock.Now(), InviteInviterDemoted); err != nil {
		return nil, err
	}
	return a, nil
}

// SetAdminDisabled deactivates or reactivates an admin; deactivating ends
// every dashboard session of theirs on every instance.
func (m *Manager) SetAdminDisabled(ctx context.Context, id string, disabled bool) (*Admin, error) {
	if !disabled {
		return m.setAdminAccess(ctx, id, AdminAccessChange{Reactivate: true}, "admin.reactivate", nil)
	}
	now := m.clock.Now()
	a, err := m.setAdminAccess(ctx, id, AdminAccessChange{Deactivate: true, At: now}, "admin.deactivate", nil)
	if err != nil {
		return nil, err
	}
	// Their sessions end first and whatever else fails: a deactivated
	// admin must not stay signed in. Their invitations go with them (an
	// accept in between, or after a failed revocation, is refused by the
	// store, which checks the inviter).
	_, endErr := m.EndAdminSessions(ctx, id, "", EndManual)
	revokeErr := m.revokeInvitesOf(ctx, id, now, InviteInviterDeactivated)
	if err := errors.Join(endErr, revokeErr); err != nil {
		return nil, err
	}
	return a, nil
}

// revokeInvitesOf revokes and audits the pending invitations inviter sent.
func (m *Manager) revokeInvitesOf(ctx context.Context, inviter string, at time.Time, reason string) error {
	st, err := m.teamStore()
	if err != nil {
		return err
	}
	return m.revokeInvites(ctx, st, AdminInviteRevocation{InvitedBy: inviter, At: at, Reason: reason})
}

// revokeInvites revokes and audits the pending invitations r names.
func (m *Manager) revokeInvites(ctx context.Context, st TeamStore, r AdminInviteRevocation) error {
	revoked, err := st.RevokeAdminInvites(ctx, r)
	if err != nil {
		return err
	}
	m.auditRevokedInvites(ctx, revoked, r.Reason)
	return nil
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
