package httpapi

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// logoutRequest is Strapi 5's logout body, all optional: {} ends the
// current session, {"scope":"all"} every session of the user,
// {"deviceId"} the user's sessions of that device. refreshToken is
// accepted and not needed: the access token names the current session.
type logoutRequest struct {
	Scope        string `json:"scope"`
	DeviceID     string `json:"deviceId"`
	RefreshToken string `json:"refreshToken"`
}

func (q logoutRequest) Valid() map[string]string {
	bad := map[string]string{}
	if q.Scope != "" && q.Scope != "all" {
		bad["scope"] = `must be "all" or left out`
	}
	addDeviceIDProblem(bad, q.DeviceID)
	return bad
}

// handleLogout is Strapi 5's POST /api/auth/logout. The answer is Strapi's
// {ok: true} plus how many sessions ended, and sessionId when it ended the
// current one.
func (s *server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeOptional[logoutRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, _ := sm.PrincipalFrom(r.Context())
		actor := s.userActor(r, p)
		answer := map[string]any{"ok": true}
		var ended int
		switch {
		case req.Scope == "all":
			ended, err = s.Manager.EndUserSessions(r.Context(), p.UserID, sm.EndLogout, actor, "")
		case req.DeviceID != "":
			ended, err = s.Manager.EndDeviceSessions(r.Context(), p.UserID, req.DeviceID, sm.EndLogout, actor)
		default:
			err = s.Manager.EndSession(r.Context(), p.SessionID, sm.EndLogout, actor)
			ended, answer["sessionId"] = 1, p.SessionID
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		answer["ended"] = ended
		s.clearRefreshCookie(w, r)
		encode(w, http.StatusOK, answer)
	})
}

// strapiSession is a session in Strapi 5's list of active sessions
// (sanitizeSessionEntry): no IP, no token, no user id.
type strapiSession struct {
	ID           string    `json:"id"`
	DeviceID     string    `json:"deviceId,omitempty"`
	DeviceName   string    `json:"deviceName,omitempty"`
	Current      bool      `json:"current"`
	LoginAt      time.Time `json:"loginAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
}

// handleStrapiSessions is Strapi 5's GET /api/auth/sessions: the user's
// live sessions, the current one first, then the most recently active.
func (s *server) handleStrapiSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		page, err := s.Manager.ListSessions(r.Context(), liveSessionsOf(p.UserID))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := make([]strapiSession, 0, len(page.Sessions))
		for _, ss := range page.Sessions {
			out = append(out, strapiSession{ID: ss.ID, DeviceID: ss.DeviceID, DeviceName: ss.Device.Name(),
				Current: ss.ID == p.SessionID, LoginAt: ss.CreatedAt, LastActiveAt: ss.LastSeenAt})
		}
		slices.SortStableFunc(out, func(a, b strapiSession) int {
			if a.Current != b.Current {
				if a.Current {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.LastActiveAt.UnixNano(), a.LastActiveAt.UnixNano())
		})
		encode(w, http.StatusOK, map[string]any{"data": out})
	})
}

// liveSessionsOf selects a user's live sessions, most recently seen first.
func liveSessionsOf(userID string) sm.SessionFilter {
	return sm.SessionFilter{UserID: userID, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}, Sort: sm.SortLastSeen, Desc: true, Limit: 500}
}

// handleStrapiRevokeSession is Strapi 5's DELETE
// /api/auth/sessions/{sessionId}: {data: {}}, or 404 "Session not found"
// for a session that is not the user's or not live (Strapi deletes ended
// sessions).
func (s *server) handleStrapiRevokeSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		if err := s.endOwnSession(r, p, r.PathValue("sessionId"), true); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": map[string]any{}})
	})
}
