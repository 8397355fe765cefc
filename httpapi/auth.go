package httpapi

import (
	"context"
	"errors"
	"maps"
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
	DeviceID  string    `json:"deviceId,omitempty"`
	IP        string    `json:"ip"`
}

// loginResponse is Strapi's {jwt, refreshToken, user} plus expiresAt and
// session; refreshToken is left out when it went in a cookie only
// (refreshInCookieOnly).
type loginResponse struct {
	JWT          string      `json:"jwt"`
	RefreshToken string      `json:"refreshToken,omitempty"`
	ExpiresAt    time.Time   `json:"expiresAt"`
	User         userJSON    `json:"user"`
	Session      sessionJSON `json:"session"`
	// DeviceToken: a challenge passed with rememberDevice (trusted devices).
	DeviceToken string `json:"deviceToken,omitempty"`
	// TokenType is "DPoP" when the tokens are bound to the client's key
	// (RFC 9449 §5); absent for bearer tokens, whose answer is unchanged.
	TokenType string `json:"token_type,omitempty"`
}

// tokenType is the token_type of a sign-in or refresh answer: "DPoP" for
// tokens bound to a key, "" (left out) for bearer tokens.
func tokenType(res *sm.LoginResult) string {
	if res.Claims.JKT != "" {
		return "DPoP"
	}
	return ""
}

func ipString(s *sm.Session) string {
	if !s.IP.IsValid() {
		return ""
	}
	return s.IP.String()
}

func (s *server) writeLogin(w http.ResponseWriter, r *http.Request, status int, res *sm.LoginResult) {
	encode(w, status, s.loginBody(w, r, res))
}

// loginBody sets the refresh cookie (when one is used) and returns the
// answer of a sign-in.
func (s *server) loginBody(w http.ResponseWriter, r *http.Request, res *sm.LoginResult) loginResponse {
	s.setRefreshCookie(w, r, res.RefreshToken, res.Session.ExpiresAt)
	body := loginResponse{
		JWT: res.AccessToken, RefreshToken: res.RefreshToken, ExpiresAt: res.Claims.ExpiresAt,
		User:        toUserJSON(res.User),
		DeviceToken: res.DeviceToken, TokenType: tokenType(res),
		Session: sessionJSON{ID: res.Session.ID, CreatedAt: res.Session.CreatedAt, ExpiresAt: res.Session.ExpiresAt,
			Device: res.Session.Device, DeviceID: res.Session.DeviceID, IP: ipString(res.Session)},
	}
	if refreshInCookieOnly(r) {
		body.RefreshToken = ""
	}
	return body
}

// strapiCookieHeader is Strapi 5's per-request opt-in to the HttpOnly
// refresh cookie: with "x-strapi-refresh-cookie: httpOnly" the refresh
// token goes in the cookie only, never in the body.
const strapiCookieHeader = "X-Strapi-Refresh-Cookie"

// strapiRefreshCookie is Strapi 5's refresh cookie name, used when the
// request opts in and SM_REFRESH_COOKIE names none.
const strapiRefreshCookie = "strapi_up_refresh"

func refreshInCookieOnly(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get(strapiCookieHeader), "httpOnly")
}

// refreshCookieName is the cookie the refresh token of r goes in; "" when
// none (no SM_REFRESH_COOKIE and no opt-in header).
func (s *server) refreshCookieName(r *http.Request) string {
	if s.RefreshCookie != "" {
		return s.RefreshCookie
	}
	if refreshInCookieOnly(r) {
		return strapiRefreshCookie
	}
	return ""
}

func (s *server) setRefreshCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	name := s.refreshCookieName(r)
	if name == "" {
		return
	}
	s.Cookies.Set(w, r, &http.Cookie{Name: name, Value: token, Path: "/api/auth", Expires: expires})
}

func (s *server) clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	name := s.refreshCookieName(r)
	if name == "" {
		return
	}
	s.Cookies.Clear(w, r, name, "/api/auth")
}

// addDeviceIDProblem names the deviceId field in bad when id is not one
// (sm.CheckDeviceID).
func addDeviceIDProblem(bad map[string]string, id string) {
	var e *sm.Error
	if errors.As(sm.CheckDeviceID(id), &e) {
		maps.Copy(bad, e.Fields)
	}
}

// clientWithDevice is the request's client with the device id it gave.
func (s *server) clientWithDevice(r *http.Request, deviceID string) sm.ClientInfo {
	c := s.clientInfo(r)
	c.DeviceID = deviceID
	return c
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
	DeviceID string `json:"deviceId"`
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
	addDeviceIDProblem(bad, q.DeviceID)
	return bad
}

func (s *server) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[registerRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res, err := s.Manager.Register(r.Context(), sm.RegisterInput{Username: req.Username, Email: strings.ToLower(req.Email), Password: req.Password}, s.clientWithDevice(r, req.DeviceID))
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
	// DeviceID is Strapi 5's optional deviceId: kept on the session, the
	// key of a later {"deviceId"} logout.
	DeviceID string `json:"deviceId"`
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
	addDeviceIDProblem(bad, q.DeviceID)
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
		client := s.clientWithDevice(r, req.DeviceID)
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

// missingRefreshToken is Strapi 5's answer to a refresh without a token.
func missingRefreshToken() error {
	return &sm.Error{Code: sm.EINVALID, Name: "BadRequestError", Message: "Missing refresh token", Fields: map[string]string{"refreshToken": "is required"}}
}

// handleRefresh is Strapi 5's POST /api/auth/refresh: the token from the
// body, or else from the refresh cookie; every refusal is 401 "Invalid
// refresh token" (an ended session keeps its reason in the details and
// the X-Session-Terminated-Reason header).
func (s *server) handleRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeOptional[refreshRequest](w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		token := req.RefreshToken
		if name := s.refreshCookieName(r); token == "" && name != "" {
			if c, err := r.Cookie(name); err == nil {
				token = c.Value
			}
		}
		if token == "" {
			s.fail(w, r, missingRefreshToken())
			return
		}
		res, err := s.Manager.Refresh(r.Context(), token, s.clientInfo(r))
		if err != nil {
			var e *sm.Error
			// A refused DPoP proof leaves the session and its refresh
			// token as they were: the client may retry with a good proof.
			if errors.As(err, &e) && e.Code == sm.EUNAUTHORIZED && e.Reason != sm.ReasonInvalidDPoPProof {
				s.clearRefreshCookie(w, r)
				refused := *e
				refused.Message = "Invalid refresh token"
				err = &refused
			}
			s.fail(w, r, err)
			return
		}
		s.setRefreshCookie(w, r, res.RefreshToken, res.Session.ExpiresAt)
		body := map[string]any{"jwt": res.AccessToken, "refreshToken": res.RefreshToken, "expiresAt": res.Claims.ExpiresAt}
		if refreshInCookieOnly(r) {
			delete(body, "refreshToken")
		}
		if t := tokenType(res); t != "" {
			body["token_type"] = t
		}
		encode(w, http.StatusOK, body)
	})
}

// changePasswordResponse is Strapi 5's {jwt, refreshToken, user} for the
// current session (which stays), plus sessionId.
type changePasswordResponse struct {
	loginResponse
	SessionID string `json:"sessionId"`
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
	return bad
}

// rules are the checks Strapi answers with their own messages (its API
// tests pin them).
func (q changePasswordRequest) rules() error {
	switch {
	case q.Password != q.PasswordConfirmation:
		return &sm.Error{Code: sm.EINVALID, Message: "Passwords do not match", Fields: map[string]string{"passwordConfirmation": "must match password"}}
	case q.Password == q.CurrentPassword:
		return &sm.Error{Code: sm.EINVALID, Message: "Your new password must be different than your current password", Fields: map[string]string{"password": "must differ from the current password"}}
	}
	return nil
}

func (s *server) handleChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[changePasswordRequest](w, r)
		if err == nil {
			err = req.rules()
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, _ := sm.PrincipalFrom(r.Context())
		// Strapi 5 answers a token pair; this session lives on, so its pair.
		res, err := s.Manager.ChangePassword(r.Context(), p, req.CurrentPassword, req.Password, s.userActor(r, p))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, changePasswordResponse{loginResponse: s.loginBody(w, r, res), SessionID: p.SessionID})
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
func (s *server) user(next http.Handler) http.Handler {
	return s.Manager.MiddlewareWith(s.requestClient)(next)
}

// strapiUser is user for Strapi 5's session routes, which answer a request
// without a token 401 "Missing authentication".
func (s *server) strapiUser(next http.Handler) http.Handler {
	authenticated := s.user(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sm.BearerToken(r) == "" {
			s.fail(w, r, &sm.Error{Code: sm.EUNAUTHORIZED, Message: "Missing authentication", Reason: "missing_token"})
			return
		}
		authenticated.ServeHTTP(w, r)
	})
}

func (s *server) userActor(r *http.Request, p sm.Principal) sm.Actor {
	return sm.Actor{Type: sm.ActorUser, ID: p.UserID, IP: ClientIP(r, s.TrustedProxies).String()}
}

func (s *server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, sm.Errorf(sm.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
	})
}
