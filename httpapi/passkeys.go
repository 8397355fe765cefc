package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// passkeyRoutes mounts the passkey self-service and passwordless sign-in.
func (s *server) passkeyRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/users/me/passkeys", s.user(s.handleListPasskeys()))
	mux.Handle("POST /api/users/me/passkeys/options", s.user(s.handlePasskeyRegistrationOptions()))
	mux.Handle("POST /api/users/me/passkeys", s.user(s.handleRegisterPasskey()))
	mux.Handle("PATCH /api/users/me/passkeys/{id}", s.user(s.handleRenamePasskey()))
	mux.Handle("DELETE /api/users/me/passkeys/{id}", s.user(s.handleRemovePasskey()))
	mux.Handle("POST /api/auth/passkey/options", s.handlePasskeyLoginOptions())
	mux.Handle("POST /api/auth/passkey/verify", s.handlePasskeyLogin())
	mux.Handle("POST /api/auth/challenge/options", s.handleChallengePasskeyOptions())
}

// optionsResponse is what navigator.credentials.create/get take:
// {"publicKey": PublicKeyCredential{Creation,Request}Options JSON}.
type optionsResponse struct {
	PublicKey json.RawMessage `json:"publicKey"`
}

// credentialRequest carries a PublicKeyCredential (its toJSON() form).
type credentialRequest struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

func (q credentialRequest) Valid() map[string]string {
	if c := bytes.TrimSpace(q.Credential); len(c) == 0 || c[0] != '{' {
		return map[string]string{"credential": "must be the PublicKeyCredential object (JSON)"}
	}
	return nil
}

type renamePasskeyRequest struct {
	Name string `json:"name"`
}

func (q renamePasskeyRequest) Valid() map[string]string { return nil }

func (s *server) handleListPasskeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		list, err := s.Manager.Passkeys(r.Context(), p.UserID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": list})
	})
}

func (s *server) handlePasskeyRegistrationOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		opts, err := s.Manager.BeginPasskeyRegistration(r.Context(), p)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, optionsResponse{PublicKey: opts})
	})
}

func (s *server) handleRegisterPasskey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		req, err := decode[credentialRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		pk, ended, err := s.Manager.FinishPasskeyRegistration(r.Context(), p, req.Name, req.Credential, s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusCreated, map[string]any{"data": pk, "endedSessions": ended})
	})
}

func (s *server) handleRenamePasskey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		req, err := decode[renamePasskeyRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.Manager.RenamePasskey(r.Context(), p, r.PathValue("id"), req.Name); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "id": r.PathValue("id")})
	})
}

func (s *server) handleRemovePasskey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		ended, err := s.Manager.RemovePasskey(r.Context(), p, r.PathValue("id"), s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "id": r.PathValue("id"), "endedSessions": ended})
	})
}

func (s *server) handlePasskeyLoginOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, err := s.Manager.PasskeyLoginOptions(r.Context(), s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, optionsResponse{PublicKey: opts})
	})
}

func (s *server) handlePasskeyLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[credentialRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res, err := s.Manager.PasskeyLogin(r.Context(), req.Credential, s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeLogin(w, r, http.StatusOK, res)
	})
}

type challengeOptionsRequest struct {
	ChallengeID string `json:"challengeId"`
}

func (q challengeOptionsRequest) Valid() map[string]string {
	if bad := challengeIDProblems(q.ChallengeID); len(bad) > 0 {
		return bad
	}
	return nil
}

// handleChallengePasskeyOptions is POST /api/auth/challenge/options: the
// request options with which a challenged login is answered by a passkey
// (method webauthn of /api/auth/challenge/verify).
func (s *server) handleChallengePasskeyOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[challengeOptionsRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		opts, err := s.Manager.PasskeyChallengeOptions(r.Context(), req.ChallengeID, s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, optionsResponse{PublicKey: opts})
	})
}
