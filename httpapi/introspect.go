package httpapi

import (
	"encoding/json"
	"errors"
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
	// Confirmation is cnf with jkt for a DPoP-bound token (RFC 9449 §6.2).
	Confirmation *confirmation `json:"cnf,omitempty"`
	// Error and ErrorDescription say why a DPoP proof passed as
	// dpop_proof was refused (the token is then inactive).
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// confirmation is the cnf member of a bound token's introspection.
type confirmation struct {
	JKT string `json:"jkt"`
}

// introspectRequest is what a resource server asks: the token, and, to
// have the client's DPoP proof checked here, the proof with the request it
// came with (dpop_proof, htm, htu: parameters of this service, not of RFC
// 7662).
type introspectRequest struct {
	Token string `json:"token"`
	Proof string `json:"dpop_proof"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
}

// readIntrospect reads the parameters: form-encoded per RFC 7662, or a
// JSON body.
func readIntrospect(w http.ResponseWriter, r *http.Request) introspectRequest {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var in introspectRequest
	if ct == "application/json" {
		_ = json.NewDecoder(r.Body).Decode(&in)
	} else if err := r.ParseForm(); err == nil {
		f := r.PostForm
		in = introspectRequest{Token: f.Get("token"), Proof: f.Get("dpop_proof"), HTM: f.Get("htm"), HTU: f.Get("htu")}
	}
	in.Token, in.Proof = strings.TrimSpace(in.Token), strings.TrimSpace(in.Proof)
	return in
}

// check validates the parameters: a token, and a proof with its request
// or none of the three.
func (in introspectRequest) check() error {
	bad := map[string]string{}
	if in.Token == "" {
		bad["token"] = "is required"
	}
	if in.Proof != "" || in.HTM != "" || in.HTU != "" {
		for name, v := range map[string]string{"dpop_proof": in.Proof, "htm": in.HTM, "htu": in.HTU} {
			if v == "" {
				bad[name] = "is required with dpop_proof, htm and htu (the client's DPoP proof and its request's method and URL)"
			}
		}
	}
	if len(bad) > 0 {
		return sm.InvalidFields(bad)
	}
	return nil
}

// handleIntrospect is RFC 7662 token introspection (service token). Every
// token that does not authorise a request right now - bad signature,
// expired, ended session - is {"active": false}, nothing more. A bound
// token's answer has cnf.jkt (RFC 9449 §6.2): without dpop_proof the
// caller checks the client's proof itself; with it, a refused proof is
// {"active": false} with error invalid_dpop_proof and why.
func (s *server) handleIntrospect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := readIntrospect(w, r)
		if err := in.check(); err != nil {
			s.fail(w, r, err)
			return
		}
		if len(in.Token) > 4096 {
			encode(w, http.StatusOK, introspection{Active: false})
			return
		}
		var p sm.Principal
		var err error
		if in.Proof == "" {
			p, err = s.Manager.Check(r.Context(), in.Token)
		} else {
			p, err = s.Manager.CheckRequest(r.Context(), in.Token, sm.ClientInfo{DPoP: sm.ProofInput{Proof: in.Proof, Method: in.HTM, URL: in.HTU}})
		}
		if err != nil {
			var e *sm.Error
			switch {
			case sm.ErrorCode(err) == sm.EUNAVAILABLE || sm.ErrorCode(err) == sm.EINTERNAL:
				s.fail(w, r, err)
			case errors.As(err, &e) && e.Reason == sm.ReasonInvalidDPoPProof:
				encode(w, http.StatusOK, introspection{Active: false, Error: e.Reason, ErrorDescription: e.Message})
			default:
				encode(w, http.StatusOK, introspection{Active: false})
			}
			return
		}
		out := introspection{Active: true, Subject: p.UserID, SessionID: p.SessionID,
			ExpiresAt: p.Claims.ExpiresAt.Unix(), IssuedAt: p.Claims.IssuedAt.Unix(),
			Issuer: s.Issuer, Audience: s.Audience, TokenType: "access_token",
			AMR: p.Claims.AMR, ACR: p.Claims.ACR}
		if !p.Claims.AuthTime.IsZero() {
			out.AuthTime = p.Claims.AuthTime.Unix()
		}
		if p.Claims.JKT != "" {
			out.Confirmation = &confirmation{JKT: p.Claims.JKT}
		}
		out.Email = p.Email // with the cached session state
		if name, err := s.Manager.Username(r.Context(), p.UserID); err == nil {
			out.Username = name
		}
		encode(w, http.StatusOK, out)
	})
}
