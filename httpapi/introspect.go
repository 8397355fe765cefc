package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// introspection is the RFC 7662 answer for an active token.
type introspection struct {
	Active    bool   `json:"active"`
	Subject   string `json:"sub,omitempty"`
	SessionID string `json:"sid,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	Audience  string `json:"aud,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Username  string `json:"username,omitempty"`
	Email     string `json:"email,omitempty"`
	// AuthTime, AMR and ACR say how and when the user last proved who
	// they are (as the token carries them).
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	ACR      string   `json:"acr,omitempty"`
}

// introspectToken reads the token parameter: form-encoded per RFC 7662,
// or a JSON body {"token": "..."}.
func introspectToken(w http.ResponseWriter, r *http.Request) string {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			Token string `json:"token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		return strings.TrimSpace(body.Token)
	}
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return strings.TrimSpace(r.PostForm.Get("token"))
}

// handleIntrospect is RFC 7662 token introspection (service token). Every
// token that does not authorise a request right now - bad signature,
// expired, ended session - is {"active": false}, nothing more.
func (s *server) handleIntrospect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := introspectToken(w, r)
		if tok == "" {
			s.fail(w, r, sm.InvalidFields(map[string]string{"token": "is required"}))
			return
		}
		if len(tok) > 4096 {
			encode(w, http.StatusOK, introspection{Active: false})
			return
		}
		p, err := s.Manager.CheckRequest(r.Context(), tok, s.requestClient(r))
		if err != nil {
			if sm.ErrorCode(err) == sm.EUNAVAILABLE || sm.ErrorCode(err) == sm.EINTERNAL {
				s.fail(w, r, err)
				return
			}
			encode(w, http.StatusOK, introspection{Active: false})
			return
		}
		out := introspection{Active: true, Subject: p.UserID, SessionID: p.SessionID,
			ExpiresAt: p.Claims.ExpiresAt.Unix(), IssuedAt: p.Claims.IssuedAt.Unix(),
			Issuer: s.Issuer, Audience: s.Audience, TokenType: "access_token",
			AMR: p.Claims.AMR, ACR: p.Claims.ACR}
		if !p.Claims.AuthTime.IsZero() {
			out.AuthTime = p.Claims.AuthTime.Unix()
		}
		if u, err := s.Manager.User(r.Context(), p.UserID); err == nil {
			out.Username, out.Email = u.Username, u.Email
		}
		encode(w, http.StatusOK, out)
	})
}
