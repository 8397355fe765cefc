package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// challengeVerifyRequest answers a login challenge (docs/AUTHENTICATION.md).
type challengeVerifyRequest struct {
	ChallengeID string `json:"challengeId"`
	Method      string `json:"method"`
	Code        string `json:"code"`
	// Credential is a WebAuthn PublicKeyCredential (method webauthn).
	Credential json.RawMessage `json:"credential"`
	// RememberDevice asks for a trusted-device token (the answer's
	// deviceToken, and the device cookie for a browser).
	RememberDevice bool `json:"rememberDevice"`
}

func (q challengeVerifyRequest) Valid() map[string]string {
	bad := challengeIDProblems(q.ChallengeID)
	switch q.Method {
	case "":
		bad["method"] = "is required"
	case sm.MethodWebAuthn:
		if len(q.Credential) == 0 || string(q.Credential) == "null" {
			bad["credential"] = "is required for webauthn"
		}
	default:
		if len(q.Method) > 32 {
			bad["method"] = "is not a known method"
		} else if c := strings.TrimSpace(q.Code); c == "" {
			bad["code"] = "is required"
		} else if len(c) > 64 {
			bad["code"] = "is too long"
		}
	}
	return bad
}

// challengeIDProblems checks the shape of a challenge id a client sent.
func challengeIDProblems(id string) map[string]string {
	bad := map[string]string{}
	if id == "" {
		bad["challengeId"] = "is required"
	} else if len(id) > 128 {
		bad["challengeId"] = "is too long"
	}
	return bad
}

// handleChallengeVerify is POST /api/auth/challenge/verify: a proof for a
// pending challenge; the answer is exactly the login's.
func (s *server) handleChallengeVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[challengeVerifyRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res, err := s.Manager.VerifyChallenge(r.Context(), req.ChallengeID,
			sm.Proof{Method: req.Method, Code: req.Code, Credential: req.Credential, Client: s.clientInfo(r)})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if req.RememberDevice {
			res.DeviceToken = s.rememberDevice(w, r, res)
		}
		s.writeLogin(w, r, http.StatusOK, res)
	})
}

type challengeSendRequest struct {
	ChallengeID string `json:"challengeId"`
	Method      string `json:"method"`
}

func (q challengeSendRequest) Valid() map[string]string {
	bad := challengeIDProblems(q.ChallengeID)
	if q.Method != "" && q.Method != sm.MethodEmail {
		bad["method"] = "must be email"
	}
	return bad
}

// handleChallengeSend is POST /api/auth/challenge/send: (re)sends the
// email code of a pending challenge; the previous code stops working.
func (s *server) handleChallengeSend() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[challengeSendRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sent, err := s.Manager.SendChallengeCode(r.Context(), req.ChallengeID, sm.MethodEmail, s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"sent": true, "method": sent.Method, "expiresAt": sent.ExpiresAt})
	})
}
