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
		ts, err := s.Store.ListAdminTokens(r.Context())
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

// Valid leaves the rules to sm.NewAdminToken, which names every bad field.
func (createTokenRequest) Valid() map[string]string { return nil }

func (s *server) handleCreateToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[createTokenRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		plain, t, err := sm.NewAdminToken(r.Context(), s.Store, s.Secrets, req.Name, req.Scope, s.now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.auditAdminData(r, "admin_token.create", "", "", map[string]any{"createdTokenId": t.ID, "name": t.Name, "scope": t.Scope})
		info := newTokenInfo(t)
		info.Token = plain
		encode(w, http.StatusCreated, map[string]any{"data": info})
	})
}

func (s *server) handleRevokeToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.Store.RevokeAdminToken(r.Context(), id, s.now()); err != nil {
			s.fail(w, r, err)
			return
		}
		s.auditAdminData(r, "admin_token.revoke", "", "", map[string]any{"revokedTokenId": id})
		w.WriteHeader(http.StatusNoContent)
	})
}
