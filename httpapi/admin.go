package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/netip"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// admin authorises a request with an admin API token of the needed scope
// (no or unknown token 401, too weak a scope 403) and puts the token in the
// request's context as the actor the core audits.
func (s *server) admin(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := s.Core.Tokens.CheckAdminToken(r.Context(), sm.BearerToken(r), scope)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		actor := sm.Actor{Type: sm.ActorAdmin, ID: "token:" + t.Name, TokenID: t.ID, IP: ClientIP(r, s.TrustedProxies).String()}
		next.ServeHTTP(w, r.WithContext(sm.WithActor(r.Context(), actor)))
	})
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
	f, err := sm.ParseSessionQuery(r.URL.Query())
	if err != nil {
		return nil, "", err
	}
	if userID != "" {
		if _, err := s.Core.Users.User(r.Context(), userID); err != nil {
			return nil, "", err
		}
		f.UserID = userID
	}
	p, err := s.Core.Sessions.ListSessions(r.Context(), f)
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
		return s.Core.Sessions.Session(r.Context(), r.PathValue("id"))
	})
}

func (s *server) handleAdminTerminate() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Sessions.TerminateSession(r.Context(), r.PathValue("id"))
	})
}

func (s *server) handleAdminDeleteSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Core.Sessions.DeleteSession(r.Context(), r.PathValue("id")); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *server) handleAdminClean() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := s.Core.Sessions.CleanEndedSessions(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"deleted": n})
	})
}

func (s *server) handleAdminListUsers() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.User, string, error) {
		f, err := sm.ParseUserQuery(r.URL.Query())
		if err != nil {
			return nil, "", err
		}
		return s.Core.Users.ListUsers(r.Context(), f)
	})
}

func (s *server) handleAdminGetUser() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Users.User(r.Context(), r.PathValue("id"))
	})
}

func (s *server) handleAdminUserSessions() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.Session, string, error) { return s.listSessions(r, r.PathValue("id")) })
}

func (s *server) handleAdminTerminateAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := s.Core.Users.TerminateUserSessions(r.Context(), r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"ended": n})
	})
}

func (s *server) handleAdminBlock(blocked bool) http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Users.SetBlocked(r.Context(), r.PathValue("id"), blocked)
	})
}

func (s *server) handleAdminStats() http.Handler {
	return s.dataHandler(func(r *http.Request) (any, error) {
		return s.Core.Stats.Stats(r.Context())
	})
}

func (s *server) handleAdminGetSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Core.Settings.Settings(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.settingsAnswer(w, r, st)
	})
}

// settingsAnswer writes the settings with, in meta, the session timeouts
// in force and where each comes from.
func (s *server) settingsAnswer(w http.ResponseWriter, r *http.Request, st *sm.Settings) {
	t, err := s.Core.Settings.SessionTimeouts(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"data": st, "meta": map[string]any{"sessionTimeouts": t}})
}

func (s *server) handleAdminPutSettings() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			s.fail(w, r, decodeError(err))
			return
		}
		st, err := s.Core.Settings.UpdateSettings(r.Context(), body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.settingsAnswer(w, r, st)
	})
}

func (s *server) handleAdminAudit() http.Handler {
	return listHandler(s, func(r *http.Request) ([]*sm.Event, string, error) {
		f, err := sm.ParseEventQuery(r.URL.Query())
		if err != nil {
			return nil, "", err
		}
		return s.Core.Audit.ListEvents(r.Context(), f)
	})
}

// handleAdminAuditVerify checks the audit log against its signed head and
// checkpoints (sm.VerifyAudit). A log found broken is an answer, not an
// error: 200 with ok false and what is wrong. It reads the whole log, so
// the core runs one at a time; a second meanwhile gets 429.
func (s *server) handleAdminAuditVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.Core.Audit.VerifyAudit(r.Context())
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
		out := geoLookup{IP: ip.String(), Public: isPublic(ip), Missing: nonNil(s.Core.Status.GeoStatus().Missing())}
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
		st := s.Core.Status.GeoStatus()
		st.Sources = nonNil(st.Sources)
		encode(w, http.StatusOK, map[string]any{"data": geoStatus{GeoStatus: st, Warnings: nonNil(s.Core.Status.ConfigWarnings(r.Context()))}})
	})
}
