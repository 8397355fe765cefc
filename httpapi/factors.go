package httpapi

import (
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

// stepUpRequest re-verifies the current session's user.
type stepUpRequest struct {
	Method string `json:"method"`
	Code   string `json:"code"`
}

func (q stepUpRequest) Valid() map[string]string {
	bad := map[string]string{}
	if q.Method == "" {
		bad["method"] = "is required"
	}
	if q.Code == "" {
		bad["code"] = "is required"
	} else if len(q.Code) > 64 {
		bad["code"] = "is too long"
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
		res, err := s.Manager.StepUp(r.Context(), p, sm.Proof{Method: req.Method, Code: req.Code, Client: s.clientInfo(r)}, s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		c := res.Claims
		encode(w, http.StatusOK, stepUpResponse{JWT: res.AccessToken, ExpiresAt: c.ExpiresAt, AuthTime: c.AuthTime, AMR: c.AMR, ACR: c.ACR})
	})
}
