package web

import (
	"errors"
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// tokensData is the API tokens page.
type tokensData struct {
	Tokens []*sm.AdminToken
	// Created is a token just made, in clear: shown this once.
	Created     string
	CreatedName string
	Name, Scope string
	Errors      map[string]string
	Message     string
}

// FieldError returns the form's error for field.
func (d tokensData) FieldError(field string) string { return fieldError(d.Errors, field) }

// tokenScopes are the scopes offered, named by the role each acts as.
var tokenScopes = []struct{ Scope, Label string }{
	{sm.ScopeRead, "Read — acts as a viewer"},
	{sm.ScopeWrite, "Write — acts as an admin"},
	{sm.ScopeService, "Service — start sessions and introspect only"},
}

// needTokens is "not found" when the core has no admin tokens.
func (s *server) needTokens(h http.HandlerFunc) http.HandlerFunc {
	return s.onlyIf(s.d.Core.Tokens != nil, h)
}

func (s *server) renderTokens(w http.ResponseWriter, r *http.Request, status int, d tokensData) {
	list, err := s.d.Core.Tokens.ListAdminTokens(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Tokens = list
	if d.Scope == "" {
		d.Scope = sm.ScopeRead
	}
	s.render(w, r, status, "tokens", "API tokens", "tokens", d)
}

func (s *server) handleTokens(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, tokensData{})
}

// handleCreateToken makes a token and shows it once, on this answer (no
// redirect: the secret must not land in a URL or the history).
func (s *server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	name, scope := r.PostFormValue("name"), r.PostFormValue("scope")
	plain, t, err := s.d.Core.Tokens.CreateAdminToken(r.Context(), name, scope)
	if err != nil {
		var se *sm.Error
		if !errors.As(err, &se) || se.Code != sm.EINVALID {
			s.serverError(w, r, err)
			return
		}
		s.renderTokens(w, r, http.StatusBadRequest, tokensData{Name: name, Scope: scope, Errors: se.Fields, Message: "The token was not created."})
		return
	}
	s.renderTokens(w, r, http.StatusOK, tokensData{Created: plain, CreatedName: t.Name})
}

func (s *server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Core.Tokens.RevokeAdminToken(r.Context(), r.PathValue("id")); err != nil {
		if sm.IsNotFound(err) {
			s.renderError(w, r, http.StatusNotFound, "Token not found", "That token does not exist.")
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.redirectBack(w, r, "/admin/tokens", "token-revoked")
}
