package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type adminKey struct{}

// adminFrom returns the admin token of an admin request.
func adminFrom(ctx context.Context) *sm.AdminToken {
	t, _ := ctx.Value(adminKey{}).(*sm.AdminToken)
	return t
}

// admin authorises a request with an admin API token of the needed scope:
// no or unknown token 401, too weak a scope 403. A user's access token is
// never an admin token.
func (s *server) admin(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := sm.BearerToken(r)
		if !strings.HasPrefix(tok, sm.AdminTokenPrefix) || len(tok) > 200 {
			sm.WriteError(w, &sm.Error{Code: sm.EUNAUTHORIZED, Message: "An admin API token is required", Reason: "admin_token_required"})
			return
		}
		t, err := s.Store.AdminTokenByHash(r.Context(), s.Secrets.LookupHash(tok))
		if sm.IsNotFound(err) {
			sm.WriteError(w, &sm.Error{Code: sm.EUNAUTHORIZED, Message: "Invalid admin API token", Reason: "invalid_token"})
			return
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		if !sm.ScopeAllows(t.Scope, scope) {
			sm.WriteError(w, &sm.Error{Code: sm.EFORBIDDEN, Message: "This token's scope does not allow this action", Reason: "scope_" + scope + "_required"})
			return
		}
		now := s.now()
		if now.Sub(t.LastUsedAt) > time.Minute {
			_ = s.Store.TouchAdminToken(r.Context(), t.ID, now)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, t)))
	})
}

func (s *server) adminActor(r *http.Request) sm.Actor {
	a := sm.Actor{Type: sm.ActorAdmin, IP: ClientIP(r, s.TrustedProxies).String()}
	if t := adminFrom(r.Context()); t != nil {
		a.ID = "token:" + t.Name
	}
	return a
}

// page is a list answer with its cursor.
type page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// listHandler answers one page of a list, {data, nextCursor}, or the error.
func listHandler[T any](s *server, list func(r *http.Request) ([]T, string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, next, err := list(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, page[T]{Data: nonNil(items), NextCursor: next})
	})
}

// listSessions lists sessions by the query's filters, for userID when set.
func (s *server) listSessions(r *http.Request, userID string) ([]*sm.Session, string, error) {
	f, err := ParseSessionFilter(r.URL.Query())
	if err != nil {
		return nil, "", err
	}
	if userID != "" {
		if _, err := s.Store.UserByID(r.Context(), userID); err != nil {
			return nil, "", err
		}
		f.UserID = userID
	}
	p, err := s.Store.ListSessions(r.Context(), f)
	return p.Sessions, p.NextCursor, err
}

func (s *server) handleAdminListSessions() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.Session, string, error) { return s.listSessions(r, "") })
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// dataHandler answers {"data": v} with what fn returns, or its error.
func (s *server) dataHandler(fn func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": v})
	})
}

func (s *server) handleAdminGetSession() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Store.SessionByID(r.Context(), r.PathValue("id"))
	})
}

func (s *server) handleAdminTerminate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.Manager.EndSession(r.Context(), id, sm.EndManual, s.adminActor(r)); err != nil {
			s.fail(w, r, err)
			return
		}
		ss, err := s.Store.SessionByID(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": ss})
	})
}

func (s *server) handleAdminDeleteSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		// End first so every instance drops it, then delete the record.
		if err := s.Manager.EndSession(r.Context(), id, sm.EndManual, s.adminActor(r)); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.Store.DeleteSession(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
		s.auditAdmin(r, "session.delete", "", id)
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *server) handleAdminClean() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := s.Store.PurgeEnded(r.Context(), s.now().Add(time.Microsecond))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.auditAdmin(r, "sessions.clean", "", "")
		encode(w, http.StatusOK, map[string]any{"deleted": n})
	})
}

func (s *server) auditAdmin(r *http.Request, action, userID, sessionID string) {
	s.auditAdminData(r, action, userID, sessionID, nil)
}

// auditAdminData records an admin action (who: the token, from which IP,
// what: action plus non-personal details) in the audit log; a failure is
// logged, as the action is already done.
func (s *server) auditAdminData(r *http.Request, action, userID, sessionID string, details map[string]any) {
	a := s.adminActor(r)
	data := map[string]any{"action": action}
	for k, v := range details {
		data[k] = v
	}
	if t := adminFrom(r.Context()); t != nil {
		data["tokenId"] = t.ID
	}
	raw, _ := json.Marshal(data)
	e := &sm.Event{Type: sm.EventAdminAction, ActorType: a.Type, ActorID: a.ID, IP: a.IP, UserID: userID, SessionID: sessionID, Data: raw}
	if err := s.Manager.Record(r.Context(), e); err != nil {
		s.log.Error("admin action not recorded in the audit log", "action", action, "err", err)
	}
}

func (s *server) handleAdminListUsers() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.User, string, error) {
		q := r.URL.Query()
		f := sm.UserFilter{Search: q.Get("q"), Cursor: q.Get("cursor")}
		bad := map[string]string{}
		f.Limit = parseLimit(q.Get("limit"), bad)
		if b := q.Get("blocked"); b != "" {
			v, err := strconv.ParseBool(b)
			if err != nil {
				bad["blocked"] = "must be true or false"
			}
			f.Blocked = &v
		}
		if len(bad) > 0 {
			return nil, "", sm.InvalidFields(bad)
		}
		return s.Store.ListUsers(r.Context(), f)
	})
}

func (s *server) handleAdminGetUser() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Store.UserByID(r.Context(), r.PathValue("id"))
	})
}

func (s *server) handleAdminUserSessions() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.Session, string, error) { return s.listSessions(r, r.PathValue("id")) })
}

func (s *server) handleAdminTerminateAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := s.Store.UserByID(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
		n, err := s.Manager.EndUserSessions(r.Context(), id, sm.EndManual, s.adminActor(r), "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.auditAdminData(r, "user.terminate_all", id, "", map[string]any{"ended": n})
		encode(w, http.StatusOK, map[string]any{"ended": n})
	})
}

func (s *server) handleAdminBlock(blocked bool) http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Manager.SetBlocked(r.Context(), r.PathValue("id"), blocked, s.adminActor(r))
	})
}

func (s *server) handleAdminStats() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Store.Stats(r.Context(), s.now())
	})
}

func (s *server) handleAdminGetSettings() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Manager.Settings(r.Context())
	})
}

func (s *server) handleAdminPutSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			s.fail(w, r, decodeError(err))
			return
		}
		st, err := s.Manager.UpdateSettings(r.Context(), body, s.adminActor(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": st})
	})
}

func (s *server) handleAdminAudit() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.Event, string, error) {
		f, err := ParseEventFilter(r.URL.Query())
		if err != nil {
			return nil, "", err
		}
		return s.Store.ListEvents(r.Context(), f)
	})
}

// handleAdminAuditVerify checks the audit log against its signed head and
// checkpoints (sm.VerifyAudit). A log found broken is an answer, not an
// error: 200 with ok false and what is wrong. It reads the whole log, so
// one runs at a time; a second meanwhile gets 429.
func (s *server) handleAdminAuditVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.verifying.CompareAndSwap(false, true) {
			s.fail(w, r, &sm.Error{Code: sm.ETOOMANY, Message: "an audit verification is already running; try again when it ends",
				Reason: "verification_running", RetryAfterSeconds: 10})
			return
		}
		defer s.verifying.Store(false)
		rep, err := s.Manager.VerifyAudit(r.Context())
		out := map[string]any{"ok": err == nil, "events": rep.Events, "checkpoints": rep.Checkpoints}
		if rep.SignedSince > 0 {
			out["signedSince"] = rep.SignedSince
		}
		if rep.Head != nil {
			out["headSeq"] = rep.Head.Seq
			if !rep.Head.At.IsZero() {
				out["headAt"] = rep.Head.At
			}
		}
		var ce *sm.ChainError
		switch {
		case errors.As(err, &ce):
			out["kind"], out["seq"], out["message"] = ce.Kind, ce.Seq, ce.Error()
			if ce.Kind == sm.ChainTruncated || ce.Kind == sm.ChainUnsignedTail {
				out["tableEnd"] = ce.TableEnd
			}
			s.log.Error("audit log verification failed", "kind", ce.Kind, "seq", ce.Seq, "err", ce)
		case err != nil:
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"data": out})
	})
}

// geoLookup is the answer of GET /api/admin/geo/{ip}.
type geoLookup struct {
	IP    string `json:"ip"`
	Found bool   `json:"found"`
	// Public is false for private, loopback and link-local addresses,
	// which no geo source places.
	Public   bool        `json:"public"`
	Location sm.Location `json:"location"`
	Threat   sm.Threat   `json:"threat"`
	// Missing lists the capabilities no source provides (sm.GeoCountry...).
	Missing []string `json:"missing"`
}

// handleAdminGeo looks an address up. It always exists: with no geo source
// it answers what is known (the address, whether it is public) and which
// capabilities are missing.
func (s *server) handleAdminGeo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, err := netip.ParseAddr(r.PathValue("ip"))
		if err != nil || ip.Zone() != "" {
			s.fail(w, r, sm.InvalidFields(map[string]string{"ip": "must be an IPv4 or IPv6 address"}))
			return
		}
		ip = ip.Unmap()
		out := geoLookup{IP: ip.String(), Public: isPublic(ip), Missing: nonNil(s.Manager.GeoStatus().Missing())}
		if s.Geo != nil {
			res, err := s.Geo.Lookup(r.Context(), ip)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			out.Found, out.Location, out.Threat = res.Found, res.Location, res.Threat
		}
		encode(w, http.StatusOK, map[string]any{"data": out})
	})
}

// isPublic reports whether ip is a globally routed unicast address.
func isPublic(ip netip.Addr) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !(ip.Is4() && ip.As4()[0] == 100 && ip.As4()[1]&0xc0 == 64)
}

// geoStatus is the answer of GET /api/admin/geo/status.
type geoStatus struct {
	sm.GeoStatus
	Warnings []sm.ConfigWarning `json:"warnings"`
}

func (s *server) handleAdminGeoStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.Manager.GeoStatus()
		st.Sources = nonNil(st.Sources)
		encode(w, http.StatusOK, map[string]any{"data": geoStatus{GeoStatus: st, Warnings: nonNil(s.Manager.ConfigWarnings(r.Context()))}})
	})
}
