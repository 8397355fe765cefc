package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// The user's own second factors (/api/users/me/...): thin handlers over the
// core (manager_totp.go), which checks the recent strong login, ends the
// other sessions and audits.

func (s *server) handleMyFactors() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		f, err := s.Manager.UserFactors(r.Context(), p.UserID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": f})
	})
}

func (s *server) handleBeginTOTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		e, err := s.Manager.BeginTOTP(r.Context(), p)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusCreated, e)
	})
}

// codeRequest carries a one-time code.
type codeRequest struct {
	Code string `json:"code"`
}

func (c codeRequest) Valid() map[string]string {
	if c.Code == "" {
		return map[string]string{"code": "is required"}
	}
	if len(c.Code) > 64 {
		return map[string]string{"code": "is too long"}
	}
	return nil
}

func (s *server) handleConfirmTOTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[codeRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, _ := sm.PrincipalFrom(r.Context())
		codes, err := s.Manager.ConfirmTOTP(r.Context(), p, req.Code, s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := map[string]any{"ok": true, "totp": true}
		if codes != nil {
			out["recoveryCodes"] = codes
		}
		encode(w, http.StatusOK, out)
	})
}

func (s *server) handleRemoveTOTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		if err := s.Manager.RemoveTOTP(r.Context(), p, s.userActor(r, p)); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ok": true, "totp": false})
	})
}

func (s *server) handleRegenerateRecoveryCodes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		codes, err := s.Manager.RegenerateRecoveryCodes(r.Context(), p, s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusCreated, map[string]any{"recoveryCodes": codes})
	})
}

// stepUpRequest re-verifies the current session's user: a code the user
// holds (method totp or recovery_code), or the answer to the session's
// step-up challenge (challengeId with a code or a passkey credential). An
// empty body starts that challenge.
type stepUpRequest struct {
	ChallengeID string          `json:"challengeId"`
	Method      string          `json:"method"`
	Code        string          `json:"code"`
	Credential  json.RawMessage `json:"credential"`
}

// begins reports whether the request starts a step-up challenge: no
// proof, and no method or one that needs a step first (email, webauthn).
func (q stepUpRequest) begins() bool {
	return q.ChallengeID == "" && q.Code == "" && len(q.Credential) == 0 &&
		(q.Method == "" || q.Method == sm.MethodEmail || q.Method == sm.MethodWebAuthn)
}

func (q stepUpRequest) Valid() map[string]string {
	bad := map[string]string{}
	if q.begins() {
		return bad
	}
	if q.Method == "" {
		bad["method"] = "is required"
	}
	if len(q.Code) > 64 {
		bad["code"] = "is too long"
	}
	if len(q.ChallengeID) > 256 {
		bad["challengeId"] = "is too long"
	}
	return bad
}

// stepUpResponse is the fresh access token of a step-up with the proof it carries.
type stepUpResponse struct {
	JWT       string    `json:"jwt"`
	ExpiresAt time.Time `json:"expiresAt"`
	AuthTime  time.Time `json:"authTime"`
	AMR       []string  `json:"amr"`
	ACR       string    `json:"acr"`
}

func (s *server) handleStepUp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[stepUpRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, _ := sm.PrincipalFrom(r.Context())
		if req.begins() {
			ch, err := s.Manager.BeginStepUp(r.Context(), p, s.clientInfo(r))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			encode(w, http.StatusCreated, map[string]any{"challenge": ch})
			return
		}
		proof := sm.Proof{Method: req.Method, Code: req.Code, Credential: req.Credential, Client: s.clientInfo(r)}
		res, err := s.Manager.StepUp(r.Context(), p, req.ChallengeID, proof, s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		c := res.Claims
		encode(w, http.StatusOK, stepUpResponse{JWT: res.AccessToken, ExpiresAt: c.ExpiresAt, AuthTime: c.AuthTime, AMR: c.AMR, ACR: c.ACR})
	})
}
