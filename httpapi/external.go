package httpapi

import (
	"net/http"
	"net/mail"
	"net/netip"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// externalSessionRequest registers a session for a user of another auth
// system; ip and userAgent are the end user's, as that system saw them.
type externalSessionRequest struct {
	ExternalUserID string `json:"externalUserId"`
	Email          string `json:"email"`
	Username       string `json:"username"`
	IP             string `json:"ip"`
	UserAgent      string `json:"userAgent"`
}

func (q externalSessionRequest) Valid() map[string]string {
	bad := map[string]string{}
	if id := strings.TrimSpace(q.ExternalUserID); id == "" || len(id) > 200 {
		bad["externalUserId"] = "is required (at most 200 characters)"
	}
	if e := strings.TrimSpace(q.Email); e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			bad["email"] = "must be a valid email address"
		}
	}
	if len(q.Username) > 64 {
		bad["username"] = "must be at most 64 characters"
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(q.IP)); err != nil || ip.Zone() != "" || ip.IsUnspecified() {
		bad["ip"] = "must be the end user's IP address, e.g. 203.0.113.7"
	}
	if len(q.UserAgent) > 1024 {
		bad["userAgent"] = "must be at most 1024 characters"
	}
	return bad
}

// handleExternalSession is POST /api/sessions (service token): the same
// login pipeline as a password login, for an identity established
// elsewhere. The firewall may refuse it (403).
func (s *server) handleExternalSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[externalSessionRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ip, _ := netip.ParseAddr(strings.TrimSpace(req.IP)) // Valid checked it
		res, err := s.Manager.StartExternalSession(r.Context(),
			sm.ExternalIdentity{ExternalID: req.ExternalUserID, Email: req.Email, Username: req.Username},
			sm.ClientInfo{IP: ip.Unmap(), UserAgent: req.UserAgent})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusCreated, loginResponse{
			JWT: res.AccessToken, RefreshToken: res.RefreshToken, ExpiresAt: res.Claims.ExpiresAt,
			User:    toUserJSON(res.User),
			Session: sessionJSON{ID: res.Session.ID, CreatedAt: res.Session.CreatedAt, ExpiresAt: res.Session.ExpiresAt, Device: res.Session.Device, IP: ipString(res.Session)},
		})
	})
}
