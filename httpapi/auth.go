package httpapi

import (
	"context"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// userJSON is the Strapi users-permissions user shape.
type userJSON struct {
	ID         string    `json:"id"`
	DocumentID string    `json:"documentId"`
	Username   string    `json:"username"`
	Email      string    `json:"email"`
	Provider   string    `json:"provider"`
	Confirmed  bool      `json:"confirmed"`
	Blocked    bool      `json:"blocked"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

func toUserJSON(u *sm.User) userJSON {
	return userJSON{ID: u.ID, DocumentID: u.ID, Username: u.Username, Email: u.Email, Provider: "local", Confirmed: u.Confirmed, Blocked: u.Blocked, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// sessionJSON is the short session shape returned with a login.
type sessionJSON struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Device    sm.Device `json:"device"`
	IP        string    `json:"ip"`
}

// loginResponse is Strapi's {jwt, user} plus refreshToken and session.
type loginResponse struct {
	JWT          string      `json:"jwt"`
	RefreshToken string      `json:"refreshToken"`
	ExpiresAt    time.Time   `json:"expiresAt"`
	User         userJSON    `json:"user"`
	Session      sessionJSON `json:"session"`
	// DeviceToken: a challenge passed with rememberDevice (trusted devices).
	DeviceToken string `json:"deviceToken,omitempty"`
}

func ipString(s *sm.Session) string {
	if !s.IP.IsValid() {
		return ""
	}
	return s.IP.String()
}

func (s *server) writeLogin(w http.ResponseWriter, r *http.Request, status int, res *sm.LoginResult) {
	s.setRefreshCookie(w, r, res.RefreshToken, res.Session.ExpiresAt)
	encode(w, status, loginResponse{
		JWT: res.AccessToken, RefreshToken: res.RefreshToken, ExpiresAt: res.Claims.ExpiresAt,
		User:        toUserJSON(res.User),
		Session:     sessionJSON{ID: res.Session.ID, CreatedAt: res.Session.CreatedAt, ExpiresAt: res.Session.ExpiresAt, Device: res.Session.Device, IP: ipString(res.Session)},
		DeviceToken: res.DeviceToken,
	})
}

func (s *server) setRefreshCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	if s.RefreshCookie == "" {
		return
	}
	s.Cookies.Set(w, r, &http.Cookie{Name: s.RefreshCookie, Value: token, Path: "/api/auth", Expires: expires})
}

func (s *server) clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	if s.RefreshCookie == "" {
		return
	}
	s.Cookies.Clear(w, r, s.RefreshCookie, "/api/auth")
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (q registerRequest) Valid() map[string]string {
	bad := map[string]string{}
	u := strings.TrimSpace(q.Username)
	switch {
	case u == "":
		bad["username"] = "is required"
	case utf8.RuneCountInString(u) < 3 || len(u) > 64:
		bad["username"] = "must be 3 to 64 characters"
	case strings.ContainsAny(u, "@ \t\r\n"):
		bad["username"] = "must not contain @ or spaces"
	}
	if e := strings.TrimSpace(q.Email); e == "" {
		bad["email"] = "is required"
	} else if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
		bad["email"] = "must be a valid email address"
	}
	if q.Password == "" {
		bad["password"] = "is required"
	}
	return bad
}

func (s *server) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[registerRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res, err := s.Manager.Register(r.Context(), sm.RegisterInput{Username: req.Username, Email: strings.ToLower(req.Email), Password: req.Password}, s.clientInfo(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if grant := res.Confirmation; grant != nil && s.Accounts.sends(grant.Purpose) {
			s.afterResponse(r, "confirmation email", func(ctx context.Context) { s.sendAccountMail(ctx, grant) })
		}
		if res.Session == nil {
			// Strapi with email_confirmation: the user only, no jwt until
			// the email is confirmed.
			encode(w, http.StatusOK, map[string]any{"user": toUserJSON(res.User)})
			return
		}
		s.writeLogin(w, r, http.StatusOK, res)
	})
}

type loginRequest struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
	// DeviceToken is a trusted device's token (API clients; browsers send
	// the device cookie instead).
	DeviceToken string `json:"deviceToken"`
}

func (q loginRequest) Valid() map[string]string {
	bad := map[string]string{}
	if strings.TrimSpace(q.Identifier) == "" {
		bad["identifier"] = "is required"
	} else if len(q.Identifier) > 254 {
		bad["identifier"] = "is too long"
	}
	if q.Password == "" {
		bad["password"] = "is required"
	} else if len(q.Password) > 1024 {
		bad["password"] = "is too long"
	}
	if len(q.DeviceToken) > 256 {
		bad["deviceToken"] = "is too long"
	}
	return bad
}

func (s *server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[loginRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		client := s.clientInfo(r)
		if req.DeviceToken != "" {
			client.DeviceToken = req.DeviceToken
		}
		res, err := s.Manager.Login(r.Context(), req.Identifier, req.Password, client)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeLogin(w, r, http.StatusOK, res)
	})
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

func (q refreshRequest) Valid() map[string]string { return nil }

func (s *server) handleRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var token string
		if c, err := r.Cookie(s.RefreshCookie); s.RefreshCookie != "" && err == nil && r.ContentLength <= 0 {
			token = c.Value
		} else {
			req, err := decode[refreshRequest](w, r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if req.RefreshToken == "" {
				s.fail(w, r, sm.InvalidFields(map[string]string{"refreshToken": "is required"}))
				return
			}
			token = req.RefreshToken
		}
		res, err := s.Manager.Refresh(r.Context(), token, s.clientInfo(r))
		if err != nil {
			if sm.ErrorCode(err) == sm.EUNAUTHORIZED {
				s.clearRefreshCookie(w, r)
			}
			s.fail(w, r, err)
			return
		}
		s.setRefreshCookie(w, r, res.RefreshToken, res.Session.ExpiresAt)
		encode(w, http.StatusOK, map[string]any{"jwt": res.AccessToken, "refreshToken": res.RefreshToken, "expiresAt": res.Claims.ExpiresAt})
	})
}

func (s *server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		if err := s.Manager.EndSession(r.Context(), p.SessionID, sm.EndLogout, s.userActor(r, p)); err != nil {
			s.fail(w, r, err)
			return
		}
		s.clearRefreshCookie(w, r)
		encode(w, http.StatusOK, map[string]any{"ok": true, "sessionId": p.SessionID})
	})
}

type changePasswordRequest struct {
	CurrentPassword      string `json:"currentPassword"`
	Password             string `json:"password"`
	PasswordConfirmation string `json:"passwordConfirmation"`
}

func (q changePasswordRequest) Valid() map[string]string {
	bad := map[string]string{}
	if q.CurrentPassword == "" {
		bad["currentPassword"] = "is required"
	}
	if q.Password == "" {
		bad["password"] = "is required"
	}
	if q.Password != q.PasswordConfirmation {
		bad["passwordConfirmation"] = "must match password"
	}
	if q.Password != "" && q.Password == q.CurrentPassword {
		bad["password"] = "must differ from the current password"
	}
	return bad
}

func (s *server) handleChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[changePasswordRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, _ := sm.PrincipalFrom(r.Context())
		if err := s.Manager.ChangePassword(r.Context(), p, req.CurrentPassword, req.Password, s.userActor(r, p)); err != nil {
			s.fail(w, r, err)
			return
		}
		u, err := s.Manager.User(r.Context(), p.UserID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"user": toUserJSON(u), "sessionId": p.SessionID})
	})
}

func (s *server) handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		u, err := s.Manager.User(r.Context(), p.UserID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, toUserJSON(u))
	})
}

// user authenticates the request as an end user (Bearer access token).
func (s *server) user(next http.Handler) http.Handler { return s.Manager.Middleware(next) }

func (s *server) userActor(r *http.Request, p sm.Principal) sm.Actor {
	return sm.Actor{Type: sm.ActorUser, ID: p.UserID, IP: ClientIP(r, s.TrustedProxies).String()}
}

func (s *server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, sm.Errorf(sm.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
	})
}
