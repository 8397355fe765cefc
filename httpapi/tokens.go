package httpapi

import (
	"net/http"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// tokenInfo is an admin API token as the API shows it: never its hash.
type tokenInfo struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Scope      string    `json:"scope"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
	Revoked    bool      `json:"revoked"`
	// Token is the token in clear, only in the answer that creates it.
	Token string `json:"token,omitempty"`
}

func newTokenInfo(t *sm.AdminToken) tokenInfo {
	return tokenInfo{ID: t.ID, Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, Revoked: !t.RevokedAt.IsZero()}
}

func (s *server) handleListTokens() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts, err := s.Core.Tokens.ListAdminTokens(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]tokenInfo, len(ts))
		for i, t := range ts {
			out[i] = newTokenInfo(t)
		}
		encode(w, http.StatusOK, page[tokenInfo]{Data: out})
	})
}

// createTokenRequest is the body of POST /api/admin/tokens.
type createTokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

// Valid leaves the rules to the core (sm.NewAdminToken), which names every bad field.
func (createTokenRequest) Valid() map[string]string { return nil }

func (s *server) handleCreateToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[createTokenRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		plain, t, err := s.Core.Tokens.CreateAdminToken(r.Context(), req.Name, req.Scope)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info := newTokenInfo(t)
		info.Token = plain
		encode(w, http.StatusCreated, map[string]any{"data": info})
	})
}

func (s *server) handleRevokeToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.Core.Tokens.RevokeAdminToken(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
