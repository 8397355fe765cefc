package sessionmanager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// HeaderTerminatedReason carries the end reason of a terminated session.
const HeaderTerminatedReason = "X-Session-Terminated-Reason"

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated principal of a request context.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// BearerToken returns the access token of an "Authorization: Bearer" (or,
// for a DPoP-bound token, "Authorization: DPoP") header.
func BearerToken(r *http.Request) string {
	tok, _ := AuthorizationToken(r)
	return tok
}

// AuthorizationToken is the access token of r's Authorization header and
// its scheme, "Bearer" or "DPoP" (RFC 9449 §7.1: a bound token comes as
// "DPoP <token>"); "", "" when there is none.
func AuthorizationToken(r *http.Request) (token, scheme string) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), "Bearer"
	}
	if len(h) > 5 && strings.EqualFold(h[:5], "dpop ") {
		return strings.TrimSpace(h[5:]), "DPoP"
	}
	return "", ""
}

// Middleware authenticates every request with a bearer access token and
// puts the Principal in the request context; other requests get 401 with
// the reason header. It is the same check the server's own API makes.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return m.MiddlewareWith(RequestClient)(next)
}

// RequestClient is the client of a request as the library middleware sees
// it with no proxy in front: the peer address, the User-Agent and the DPoP
// proof with the request's method and URL. Behind a reverse proxy, pass
// MiddlewareWith a function that reads the address the trusted proxy gives.
func RequestClient(r *http.Request) ClientInfo {
	c := ClientInfo{UserAgent: r.UserAgent()}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		c.IP = ap.Addr().Unmap()
	}
	if p, bad := ProofHeader(r); p != "" || bad != "" {
		c.DPoP = ProofInput{Proof: p, Method: r.Method, URL: RequestURL(r), Invalid: bad}
	}
	return c
}

// RequestURL is the absolute URL of r without query or fragment (DPoP's
// htu), as the server saw it: the scheme from TLS, the Host header.
func RequestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// MiddlewareWith is Middleware with the request's client read by client
// (the address behind trusted proxies, the public URL for DPoP).
func (m *Manager) MiddlewareWith(client func(*http.Request) ClientInfo) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return m.middleware(next, client) }
}

func (m *Manager) middleware(next http.Handler, client func(*http.Request) ClientInfo) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, scheme := AuthorizationToken(r)
		if tok == "" {
			WriteError(w, &Error{Code: EUNAUTHORIZED, Message: "Missing or invalid credentials", Reason: "missing_token"})
			return
		}
		c := client(r)
		c.DPoP.Scheme = scheme // the Authorization header is read once, here
		p, err := m.AuthenticateRequest(r.Context(), tok, c)
		if err != nil {
			if status := HTTPStatus(ErrorCode(err)); status >= http.StatusInternalServerError {
				// The client sees the safe message; the cause is for the log.
				m.log.ErrorContext(r.Context(), "authenticate request", "status", status, "method", r.Method, "path", r.URL.Path, "err", err)
			}
			WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// HTTPStatus maps an error code to its HTTP status: the one map of the
// product (httpapi and the library middleware both use it).
func HTTPStatus(code string) int {
	switch code {
	case EINVALID:
		return http.StatusBadRequest
	case EUNAUTHORIZED:
		return http.StatusUnauthorized
	case EFORBIDDEN:
		return http.StatusForbidden
	case ENOTFOUND:
		return http.StatusNotFound
	case ECONFLICT:
		return http.StatusConflict
	case ETOOMANY:
		return http.StatusTooManyRequests
	case EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorNames are Strapi's error names by status.
var errorNames = map[int]string{
	400: "ValidationError", 401: "UnauthorizedError", 403: "ForbiddenError", 404: "NotFoundError",
	409: "ApplicationError", 429: "RateLimitError", 503: "ServiceUnavailableError", 500: "ApplicationError",
}

// ErrorBody is the Strapi-shaped error document:
// {"data":null,"error":{"status","name","message","details"}}.
type ErrorBody struct {
	Data  any         `json:"data"`
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error member of ErrorBody.
type ErrorDetail struct {
	Status  int            `json:"status"`
	Name    string         `json:"name"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// WriteError writes err as a Strapi-shaped JSON error with its status; a
// terminated session also gets the X-Session-Terminated-Reason header.
// Errors that are not *Error become "internal error", and an *Error's Cause
// is never written: the caller logs them.
func WriteError(w http.ResponseWriter, err error) {
	code := ErrorCode(err)
	status := HTTPStatus(code)
	d := ErrorDetail{Status: status, Name: errorNames[status], Message: ErrorMessage(err), Details: map[string]any{}}
	var e *Error
	if errors.As(err, &e) {
		if e.Name != "" {
			d.Name = e.Name
		}
		if e.Reason != "" {
			d.Details["reason"] = e.Reason
		}
		for k, v := range e.Details {
			d.Details[k] = v
		}
		if len(e.Fields) > 0 {
			errs := make([]map[string]any, 0, len(e.Fields))
			for f, msg := range e.Fields {
				errs = append(errs, map[string]any{"path": strings.Split(f, "."), "name": f, "message": msg})
			}
			d.Details["errors"] = errs
			d.Details["fields"] = e.Fields
		}
		if reason, ok := TerminatedReason(err); ok {
			if reason == "" {
				reason = "unknown"
			}
			w.Header().Set(HeaderTerminatedReason, string(reason))
		}
		if e.Challenge != nil {
			d.Details["challenge"] = e.Challenge
		}
		if e.RetryAfterSeconds > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate(e))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: d})
}

// wwwAuthenticate is the Bearer challenge of a 401: RFC 9470's
// insufficient_user_authentication (with max_age and acr_values) for a
// step-up, none for a login challenge (the body names the factors),
// RFC 9449's DPoP invalid_dpop_proof for a refused proof, invalid_token
// otherwise.
func wwwAuthenticate(e *Error) string {
	switch {
	case e != nil && e.Reason == ReasonStepUpRequired:
		v := `Bearer error="insufficient_user_authentication", error_description="A recent verification of the user is required"`
		if a := e.Details["acrValues"]; a != "" {
			v += `, acr_values="` + a + `"`
		}
		if m := e.Details["maxAge"]; m != "" {
			v += `, max_age=` + m
		}
		return v
	case e != nil && e.Challenge != nil:
		return `Bearer realm="challenge"`
	case e != nil && e.Reason == ReasonInvalidDPoPProof:
		// RFC 9449 §7.1; the messages are ours, without quotes.
		return `DPoP error="invalid_dpop_proof", error_description="` + e.Message + `", algs="` + DPoPAlgorithms + `"`
	}
	return `Bearer error="invalid_token"`
}
