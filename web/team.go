package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// teamData is the Team page: the admins and the invitation form.
type teamData struct {
	// LinkBase is where invitation links lead when SM_PUBLIC_URL is not
	// set (the address of this request), shown as a warning; "" when set.
	LinkBase string
	Admins   []*sm.Admin
	// Invites are the pending invitations, newest first.
	Invites []teamInvite
	Roles   []string
	Self    string // the signed-in admin's id
	// Invite form state after a refused invitation.
	Email, Role string
	Errors      map[string]string
	Message     string
}

// teamInvite is a pending invitation as the Team page lists it.
type teamInvite struct {
	ID          string // what Revoke posts (sm.AdminInvite.ID)
	Email, Role string
	InvitedBy   string // the inviter's email ("" when unknown)
	ExpiresAt   time.Time
}

// FieldError returns the invitation form's error for field.
func (d teamData) FieldError(field string) string { return fieldError(d.Errors, field) }

// needTeam is "not found" when the core manages no team.
func (s *server) needTeam(h http.HandlerFunc) http.HandlerFunc {
	return s.onlyIf(s.d.Core.Team != nil, h)
}

// onlyIf serves h when the use case it needs is there, else "not found".
func (s *server) onlyIf(present bool, h http.HandlerFunc) http.HandlerFunc {
	if present {
		return h
	}
	return s.handleNotFound
}

func (s *server) renderTeam(w http.ResponseWriter, r *http.Request, status int, d teamData) {
	list, err := s.d.Core.Team.ListAdmins(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	invites, err := s.d.Core.Team.ListAdminInvites(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	emails := make(map[string]string, len(list))
	for _, a := range list {
		emails[a.ID] = a.Email
	}
	for _, inv := range invites {
		d.Invites = append(d.Invites, teamInvite{ID: inv.ID(), Email: inv.Email, Role: inv.Role, InvitedBy: emails[inv.InvitedBy], ExpiresAt: inv.ExpiresAt})
	}
	d.Admins, d.Roles, d.Self = list, sm.Roles, adminFrom(r.Context()).ID
	if s.d.PublicURL == "" {
		d.LinkBase = strings.TrimSuffix(s.inviteURL(r), "/admin/invite")
	}
	if d.Role == "" {
		d.Role = sm.RoleViewer
	}
	s.render(w, r, status, "team", "Team", "team", d)
}

func (s *server) handleTeam(w http.ResponseWriter, r *http.Request) {
	s.renderTeam(w, r, http.StatusOK, teamData{})
}

// inviteURL is where an invitation link leads: the public URL when one is
// configured, else the address the inviting owner uses (the Team page and
// the configuration warning invite_link_request_host say so).
func (s *server) inviteURL(r *http.Request) string {
	if s.d.PublicURL != "" {
		return strings.TrimRight(s.d.PublicURL, "/") + "/admin/invite"
	}
	scheme := "http"
	if r.TLS != nil || s.d.Cookies.Production {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/admin/invite"
}

func (s *server) handleInvite(w http.ResponseWriter, r *http.Request) {
	email, role := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("role")
	_, err := s.d.Core.Team.InviteAdmin(r.Context(), email, role, s.inviteURL(r))
	if err != nil {
		s.teamFailed(w, r, err, teamData{Email: email, Role: role})
		return
	}
	s.redirectBack(w, r, "/admin/team", "invited")
}

// handleRevokeInvite revokes the invitation the form names (its id, the
// one the page listed: not whichever is pending for its email now).
func (s *server) handleRevokeInvite(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Core.Team.RevokeAdminInvite(r.Context(), r.PostFormValue("id")); err != nil {
		s.teamFailed(w, r, err, teamData{})
		return
	}
	s.redirectBack(w, r, "/admin/team#invites", "invite-revoked")
}

// teamFailed shows a refused team change on the Team page, the fields and
// reason named; a system failure is a server error.
func (s *server) teamFailed(w http.ResponseWriter, r *http.Request, err error, d teamData) {
	var se *sm.Error
	if !errors.As(err, &se) || se.Code == sm.EINTERNAL || se.Code == sm.EUNAVAILABLE && se.Reason == "" {
		s.serverError(w, r, err)
		return
	}
	d.Errors, d.Message = se.Fields, sm.ErrorMessage(err)
	s.renderTeam(w, r, sm.HTTPStatus(se.Code), d)
}

func (s *server) handleAdminRole(w http.ResponseWriter, r *http.Request) {
	if _, err := s.d.Core.Team.SetAdminRole(r.Context(), r.PathValue("id"), r.PostFormValue("role")); err != nil {
		s.teamFailed(w, r, err, teamData{})
		return
	}
	s.redirectBack(w, r, "/admin/team", "role-changed")
}

func (s *server) handleAdminDisabled(disabled bool) http.HandlerFunc {
	done := "admin-reactivated"
	if disabled {
		done = "admin-deactivated"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.d.Core.Team.SetAdminDisabled(r.Context(), r.PathValue("id"), disabled); err != nil {
			s.teamFailed(w, r, err, teamData{})
			return
		}
		s.redirectBack(w, r, "/admin/team", done)
	}
}

func (s *server) handleAdminSignOut(w http.ResponseWriter, r *http.Request) {
	if _, err := s.d.Core.Team.SignOutAdmin(r.Context(), r.PathValue("id")); err != nil {
		s.teamFailed(w, r, err, teamData{})
		return
	}
	s.redirectBack(w, r, "/admin/team", "admin-signed-out")
}

// inviteData is the public page where an invited admin chooses a password.
type inviteData struct {
	Token   string
	Errors  map[string]string
	Message string
}

// FieldError returns the form's error for field.
func (d inviteData) FieldError(field string) string { return fieldError(d.Errors, field) }

func (s *server) handleInvitePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 256 {
		s.renderError(w, r, http.StatusNotFound, "Invitation not found", "This invitation link is incomplete. Open the link from the email again.")
		return
	}
	s.render(w, r, http.StatusOK, "invite", "Join the team", "", inviteData{Token: token})
}

// handleAcceptInvite creates the invited admin and signs them in.
func (s *server) handleAcceptInvite(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	d := inviteData{Token: r.PostFormValue("token")}
	password, again := r.PostFormValue("password"), r.PostFormValue("again")
	if s.d.Core.Team == nil {
		s.handleNotFound(w, r)
		return
	}
	if password != again {
		d.Errors, d.Message = map[string]string{"again": "does not match the password"}, "The passwords do not match."
		s.render(w, r, http.StatusBadRequest, "invite", "Join the team", "", d)
		return
	}
	if len(password) > 1024 {
		d.Errors, d.Message = map[string]string{"password": "is too long"}, "The password is too long."
		s.render(w, r, http.StatusBadRequest, "invite", "Join the team", "", d)
		return
	}
	ctx := sm.WithActor(r.Context(), sm.Actor{Type: sm.ActorAdmin, IP: s.clientIP(r).String()})
	a, err := s.d.Core.Team.AcceptAdminInvite(ctx, d.Token, password)
	if err != nil {
		var se *sm.Error
		if !errors.As(err, &se) || se.Code == sm.EINTERNAL || se.Code == sm.EUNAVAILABLE {
			s.serverError(w, r, err)
			return
		}
		d.Errors, d.Message = se.Fields, sm.ErrorMessage(err)
		s.render(w, r, sm.HTTPStatus(se.Code), "invite", "Join the team", "", d)
		return
	}
	s.signedIn(w, r, a, "/admin/")
}
