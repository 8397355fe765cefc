package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// SessionCookie is the cookie forward auth also accepts an access token from.
const SessionCookie = "msm_session"

// noStore is the Cache-Control of every verify answer, shared: net/http
// only reads it, and the full slice expression makes an append copy.
var noStore = []string{"no-store"}

// handleVerify is forward auth for reverse proxies (nginx auth_request,
// Traefik ForwardAuth, Caddy forward_auth): 200 with identity headers, or
// 401 with the reason header. It is the hot path: no store round trip.
func (s *server) handleVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, scheme := sm.AuthorizationToken(r)
		if tok == "" {
			if c, err := r.Cookie(SessionCookie); err == nil {
				tok = c.Value
			}
		}
		if tok == "" {
			sm.WriteError(w, &sm.Error{Code: sm.EUNAUTHORIZED, Message: "Missing or invalid credentials", Reason: "missing_token"})
			return
		}
		c := s.requestClient(r)
		c.DPoP.Scheme = scheme
		p, err := s.Manager.AuthenticateRequest(r.Context(), tok, c)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// A route's demand for a recent or stronger proof comes in the
		// verify URL the proxy is configured with (?max_age=300&acr_values=2):
		// nothing to parse, nothing allocated, when there is none.
		if r.URL.RawQuery != "" {
			if err := s.checkStepUp(r.URL.RawQuery, p); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		// The identity headers share one backing array (one allocation, not
		// one per header); the keys are written in canonical form already.
		h := w.Header()
		vals := make([]string, 3)
		vals[0], vals[1] = p.SessionID, p.UserID
		h["X-Session-Id"] = vals[0:1:1]
		h["X-User-Id"] = vals[1:2:2]
		if s.VerifyEmailHeader && p.Email != "" {
			vals[2] = p.Email // from the cached session state: no store read
			h["X-User-Email"] = vals[2:3:3]
		}
		h["Cache-Control"] = noStore[:1:1]
		w.WriteHeader(http.StatusOK)
	})
}

// checkStepUp applies a route's requirement to the access token's
// auth_time and acr: RFC 9470's 401 insufficient_user_authentication
// (reason step_up_required) when the session has not proven itself
// recently or strongly enough, 400 for a requirement that is not one (a
// proxy misconfiguration, reported rather than ignored).
func (s *server) checkStepUp(rawQuery string, p sm.Principal) error {
	maxAge, acr, err := stepUpRequirement(rawQuery)
	if err != nil {
		return err
	}
	if maxAge == 0 && acr == "" {
		return nil
	}
	if !sm.RecentAuth(p.Claims.AuthContext, s.Manager.Now(), maxAge, acr) {
		return sm.StepUpRequired(maxAge, acr)
	}
	return nil
}

// stepUpRequirement reads max_age (seconds, > 0) and acr_values (RFC 9470:
// space-separated acceptable classes; the lowest listed is the minimum)
// from a verify URL's query, other parameters ignored. It walks the query
// itself rather than building url.Values: a route with a requirement is as
// hot as one without.
func stepUpRequirement(rawQuery string) (maxAge time.Duration, acr string, err error) {
	for part := range strings.SplitSeq(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if name != "max_age" && name != "acr_values" {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			if value, err = url.QueryUnescape(value); err != nil {
				return 0, "", sm.InvalidFields(map[string]string{name: "is not valid query text"})
			}
		}
		switch name {
		case "max_age":
			n, convErr := strconv.Atoi(value)
			if convErr != nil || n <= 0 || n > 366*24*3600 {
				return 0, "", sm.InvalidFields(map[string]string{"max_age": "must be a number of seconds, 1 or more"})
			}
			maxAge = time.Duration(n) * time.Second
		case "acr_values":
			for a := range strings.FieldsSeq(value) {
				if a != sm.ACRSingle && a != sm.ACRMultiFactor {
					return 0, "", sm.InvalidFields(map[string]string{"acr_values": "must list authentication classes " + sm.ACRSingle + " or " + sm.ACRMultiFactor})
				}
				if acr == "" || a < acr {
					acr = a
				}
			}
		}
	}
	return maxAge, acr, nil
}
