package sessionmanager

import (
	"context"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Failure counter keys. An IPv6 client is counted by its /64: one host
// usually holds the whole /64, so counting by /128 would be no limit.
func failKeyAccount(userID string) string { return "fail:acct:" + userID }

// Every limit by address (API, magic links, dashboard) keys through here.
func failKeyIP(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "fail:ip:" + p.String()
	}
	return "fail:ip:" + ip.String()
}

// failKeyUnknown counts failures for an identifier no account has, under a
// keyed hash of it, so an unknown name is slowed exactly like a known one
// (the delay does not tell which accounts exist) and is not kept in clear.
// It keys by IdentityKey, as account lookups do: every spelling that would
// find one account (full width, look-alike letters, invisible characters)
// shares one counter, exactly as they share the account's when it exists.
func (m *Manager) failKeyUnknown(identifier string) string {
	key := IdentityKey(identifier)
	if key == "" {
		key = strings.ToLower(identifier)
	}
	h := m.cfg.Secrets.LookupHash("login-identifier:" + key)
	return "fail:ident:" + hex.EncodeToString(h[:16])
}

// failWindow is the window failed logins are counted in.
func (m *Manager) failWindow(ctx context.Context) time.Duration {
	if w := time.Duration(m.currentSettings(ctx).FailedLoginWindow); w > 0 {
		return w
	}
	return 15 * time.Minute
}

// cleanClient normalises what a client sent about itself for the session
// record: the IP unmapped, the user agent valid UTF-8 without control
// characters, at most 1 KiB (the stores keep text; Postgres refuses invalid
// UTF-8). Events get the same cleaning in record.
func cleanClient(c ClientInfo) ClientInfo {
	c.IP = c.IP.Unmap()
	c.UserAgent = cleanText(c.UserAgent, 1024)
	return c
}

// cleanText makes s valid UTF-8 without control characters, cut on a rune
// boundary at most n bytes long.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// ipText is the address as events record it ("" when unknown).
func ipText(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}

// invalidCredentials is Strapi's answer to a bad identifier or password.
func invalidCredentials() *Error {
	return &Error{Code: EINVALID, Message: "Invalid identifier or password", Reason: "invalid_credentials"}
}

// RegisterInput is a new local account.
type RegisterInput struct {
	Username string
	Email    string
	Password string
}

// Register creates a local account and, unless the settings require a
// confirmed email first, signs it in. The login policy (geo-fence, threat,
// risk) is decided before anything is written: a refused sign-up creates no
// account. The account starts unconfirmed; the result carries the token of
// its confirmation email (Confirmation). With RequireEmailConfirmation the
// result has the user only: no session until the email is proven.
func (m *Manager) Register(ctx context.Context, in RegisterInput, client ClientInfo) (*LoginResult, error) {
	in.Email = strings.TrimSpace(in.Email)
	in.Username = strings.TrimSpace(in.Username)
	if err := registerProblems(in); err != nil {
		return nil, err
	}
	if m.cfg.RegisterPerIP > 0 {
		window := m.failWindow(ctx)
		if n, _ := m.fails.Incr(ctx, "register:"+failKeyIP(client.IP), window); n > int64(m.cfg.RegisterPerIP) {
			return nil, &Error{Code: ETOOMANY, Message: "Too many sign-ups from this address; try again later", Reason: "too_many_signups", RetryAfterSeconds: int(window / time.Second)}
		}
	}
	if err := m.validatePassword(in.Password); err != nil {
		return nil, err
	}
	hash, err := m.cfg.Passwords.Hash(in.Password)
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	u := &User{ID: newID(), Email: in.Email, Username: in.Username, PasswordHash: hash, PasswordUnproven: true, CreatedAt: now, UpdatedAt: now}
	check, err := m.checkLogin(ctx, u, AuthPassword, client, true)
	if err != nil {
		return nil, err
	}
	if err := m.store.CreateUser(ctx, u); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, &Error{Code: ECONFLICT, Message: "Email or Username are already taken", Reason: "taken"}
		}
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventUserRegistered, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: ipText(client.IP), UserAgent: client.UserAgent}, nil)
	grant, err := m.issueAccountToken(ctx, u, TokenConfirmEmail, client)
	if err != nil {
		m.log.Error("register: confirmation token not issued", "user", u.ID, "err", err)
	}
	if check.settings.RequireEmailConfirmation {
		return &LoginResult{User: u, Confirmation: grant}, nil
	}
	res, err := m.openSession(ctx, u, AuthPassword, check)
	if err != nil {
		return nil, err
	}
	res.Confirmation = grant
	return res, nil
}

// registerProblems checks a sign-up's fields before any store call: no NUL
// or invalid UTF-8 anywhere, and a username and email the identity profile
// accepts (no look-alike or invisible characters, no mixed scripts).
func registerProblems(in RegisterInput) error {
	bad := map[string]string{}
	for field, v := range map[string]string{"username": in.Username, "email": in.Email} {
		if p := identityProblem(v); p != "" {
			bad[field] = p
		}
	}
	if p := textProblem(in.Password); p != "" {
		bad["password"] = p
	}
	if len(bad) > 0 {
		return InvalidFields(bad)
	}
	return nil
}

// Login checks a password and, when it matches and the policy allows the
// login, starts a session. Every attempt is counted per account and per IP
// before the password is checked (reserveAttempt); past the limits answers
// slow down and then refuse. A wrong password answers the same whether the
// account exists, is active or is blocked; "blocked" (403) comes only
// after the right password (docs/SECURITY.md).
func (m *Manager) Login(ctx context.Context, identifier, password string, client ClientInfo) (*LoginResult, error) {
	identifier = strings.TrimSpace(identifier)
	if err := checkTexts("identifier", identifier, "password", password); err != nil {
		return nil, err
	}
	u, uerr := m.store.UserByIdentifier(ctx, identifier)
	if uerr != nil && !IsNotFound(uerr) {
		return nil, uerr
	}
	acctKey := m.failKeyUnknown(identifier)
	if u != nil {
		acctKey = failKeyAccount(u.ID)
	}
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, acctKey, failKeyIP(client.IP))
	if err != nil {
		return nil, err
	}
	if u == nil || u.PasswordHash == "" {
		_, _ = m.cfg.Passwords.Verify(m.dummy(), password)
		return nil, m.loginFailed(ctx, nil, identifier, client, "unknown_user")
	}
	ok, err := m.cfg.Passwords.Verify(u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, m.loginFailed(ctx, u, identifier, client, "wrong_password")
	}
	// Neither answer below is a success: the attempt stays counted, so such
	// an account tests passwords no faster than an active one.
	if u.Blocked {
		return nil, blockedUser()
	}
	// The owner reported a session as not theirs: whoever knows this
	// password may be the thief, so only the emailed reset signs in again.
	if err := resetPending(u); err != nil {
		return nil, err
	}
	// Only after a correct password, so the answer tells nothing to anyone
	// who does not know it (Strapi asks before the password).
	if !u.Confirmed && m.currentSettings(ctx).RequireEmailConfirmation {
		return nil, &Error{Code: EINVALID, Name: "ApplicationError", Message: "Your account email is not confirmed", Reason: ReasonEmailNotConfirmed}
	}
	try.succeeded(ctx)
	return m.StartSession(ctx, u, AuthPassword, client)
}

// dummy is a hash verified against when the user does not exist, so a
// missing account costs as much time as a wrong password (no enumeration
// by timing).
func (m *Manager) dummy() string {
	m.dummyOnce.Do(func() { m.dummyHash, _ = m.cfg.Passwords.Hash(newID()) })
	return m.dummyHash
}

// loginFailed records a failed password login (its attempt was counted
// when it was reserved) and answers Strapi's invalid credentials.
func (m *Manager) loginFailed(ctx context.Context, u *User, identifier string, client ClientInfo, why string) error {
	e := &Event{Type: EventLoginFailed, ActorType: ActorUser, IP: ipText(client.IP), UserAgent: client.UserAgent, Data: jsonObject("reason", why)}
	if u != nil {
		e.UserID, e.ActorID = u.ID, u.ID
	} else {
		e.Personal = jsonObject("identifier", cleanText(identifier, 254))
	}
	m.audit(ctx, e, nil)
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.Login(AuthPassword, "failed")
	}
	return invalidCredentials()
}

func (m *Manager) currentSettings(ctx context.Context) *Settings {
	s, err := m.Settings(ctx)
	if err != nil {
		m.log.Error("settings unavailable; using defaults", "err", err)
		return DefaultSettings()
	}
	return s
}

// effectiveSettings applies the licence gates to the settings, in one
// place: without geo-fencing there are no country lists, without blocking
// every block becomes an alert.
func (m *Manager) effectiveSettings(s *Settings) *Settings {
	if m.cfg.Allows == nil {
		return s
	}
	c := *s
	if !m.allows(FeatureGeofence) {
		c.AllowedCountries, c.BlockedCountries = nil, nil
	}
	a := &c.Actions
	for _, p := range []*Action{&a.VPN, &a.Proxy, &a.Tor, &a.Datacenter, &a.Threat, &a.Geofence, &a.LowScore, &a.NewCountry, &a.NewDevice} {
		if (*p == ActionBlock && !m.allows(FeatureBlocking)) || (*p == ActionChallenge && !m.allows(FeatureChallenge)) {
			*p = ActionAlert
		}
	}
	if !m.allows(FeatureBlocking) {
		c.GeoLookupFailure = "allow"
		c.ChallengeFallback = ChallengeFallbackAlert
	}
	return &c
}

// StartSession runs the login pipeline for a user whose identity is
// established (password, magic link, external system): device, geo and
// threat lookup, risk score and policy, then the session and its tokens.
// A blocked login is recorded and answered with EFORBIDDEN; a challenged
// one gets a pending challenge and the 401 challenge_required, and its
// session opens when VerifyChallenge accepts a proof
// (manager_challenge.go).
func (m *Manager) StartSession(ctx context.Context, u *User, method AuthMethod, client ClientInfo) (*LoginResult, error) {
	c, err := m.checkLogin(ctx, u, method, client, false)
	if err != nil {
		return nil, err
	}
	if c.assessment.Action == ActionChallenge {
		return nil, m.challengeLogin(ctx, u, method, c)
	}
	return m.openSession(ctx, u, method, c)
}

// loginCheck is the policy's verdict on an allowed login attempt, kept for
// the session it opens.
type loginCheck struct {
	now        time.Time
	client     ClientInfo
	attempt    LoginAttempt
	settings   *Settings
	history    LoginHistory
	assessment Assessment
	// methods are the factors a challenge offers (Action challenge only).
	methods []string
	// proof is the amr a passed challenge adds to the session.
	proof []string
	// trusted: the client presented a live trusted-device token of this
	// user: its device is known (no new_device) and it is not challenged.
	trusted bool
}

// checkLogin evaluates the login policy for u (device, geo, threat, risk,
// geo-fence) without writing anything but the refusal: a blocked attempt is
// recorded and answered with EFORBIDDEN. A challenge verdict stays one when
// u has a factor to answer it (c.methods), else the settings' fallback
// decides (decideChallenge). signup marks a user that does not exist yet
// (a registration is decided before the account is created; it has no
// factor).
func (m *Manager) checkLogin(ctx context.Context, u *User, method AuthMethod, client ClientInfo, signup bool) (*loginCheck, error) {
	if u.Blocked {
		return nil, blockedUser()
	}
	// Refused, not cleaned: the id is the key of a later logout of the device.
	if err := CheckDeviceID(client.DeviceID); err != nil {
		return nil, err
	}
	c := &loginCheck{now: m.clock.Now(), client: cleanClient(client)}
	client = c.client
	c.attempt = LoginAttempt{UserID: u.ID, IP: client.IP, At: c.now}
	if m.cfg.UserAgents != nil {
		c.attempt.Device = m.cfg.UserAgents.Parse(client.UserAgent)
	} else {
		c.attempt.Device = Device{Type: "unknown"}
	}
	if m.cfg.Geo != nil && m.allows(FeatureGeo) && client.IP.IsValid() {
		c.attempt.Geo, c.attempt.GeoErr = m.cfg.Geo.Lookup(ctx, client.IP)
		if c.attempt.GeoErr != nil {
			m.log.Warn("geo lookup failed", "err", c.attempt.GeoErr)
		}
		if !m.allows(FeatureThreat) {
			c.attempt.Geo.Threat = Threat{}
		}
	}
	c.settings = m.effectiveSettings(m.currentSettings(ctx))
	c.assessment = Assessment{Score: 100, Action: ActionAllow}
	if m.cfg.Risk != nil && m.allows(FeatureRisk) {
		// Only the risk verdict uses a remembered device (a known device; a
		// challenge turned into an alert): without scoring, no store write.
		c.trusted = !signup && m.deviceTrusted(ctx, u.ID, client)
		if !signup {
			h, err := m.store.LoginHistory(ctx, u.ID)
			if err != nil {
				return nil, err
			}
			c.history = h
		}
		if c.trusted {
			// A remembered device is a known device, whatever the history.
			c.history.DeviceFamilies = append(c.history.DeviceFamilies, c.attempt.Device.Family())
		}
		c.history.FailedForAccount, _ = m.fails.Get(ctx, failKeyAccount(u.ID))
		c.history.FailedForIP, _ = m.fails.Get(ctx, failKeyIP(client.IP))
		c.assessment = m.cfg.Risk.Assess(c.settings, c.attempt, c.history)
	}
	if c.assessment.Action == ActionChallenge && c.trusted {
		// The device passed a challenge and was remembered: for it (only)
		// the policy's challenge is an alert; rules still see the login.
		c.assessment.Action = ActionAlert
	}
	if c.assessment.Action == ActionChallenge {
		if err := m.decideChallenge(ctx, u, method, c, signup); err != nil {
			return nil, err
		}
	}
	if c.assessment.Action != ActionBlock {
		return c, nil
	}
	a := c.assessment
	e := &Event{Type: EventLoginBlocked, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, Country: c.attempt.Geo.Location.CountryCode,
		IP: ipText(client.IP), UserAgent: client.UserAgent,
		Data:     jsonObject("reason", a.BlockReason, "score", a.Score, "reasons", a.Reasons, "method", method, "threat", c.attempt.Geo.Threat, "device", c.attempt.Device),
		Personal: jsonObject("location", c.attempt.Geo.Location)}
	if signup {
		// No account was created: the event names the refused sign-up.
		e.ActorID, e.UserID = "", ""
		e.Data = jsonObject("reason", a.BlockReason, "score", a.Score, "reasons", a.Reasons, "method", method, "threat", c.attempt.Geo.Threat, "device", c.attempt.Device, "signup", true)
		e.Personal = jsonObject("location", c.attempt.Geo.Location, "email", u.Email, "username", u.Username)
	}
	if err := m.record(ctx, e, c.alertInput(u)); err != nil {
		return nil, err
	}
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.Login(method, "blocked")
	}
	return nil, &Error{Code: EFORBIDDEN, Message: "Login blocked by security policy", Reason: a.BlockReason}
}

// alertInput is what alert rules see of the attempt.
func (c *loginCheck) alertInput(u *User) *AlertInput {
	return &AlertInput{User: u, Location: c.attempt.Geo.Location, Threat: c.attempt.Geo.Threat, Device: c.attempt.Device, Assessment: &c.assessment, Previous: c.history.Previous}
}

// openSession creates the session of an attempt checkLogin allowed, with
// its tokens, event and alerts.
func (m *Manager) openSession(ctx context.Context, u *User, method AuthMethod, c *loginCheck) (*LoginResult, error) {
	now, client, attempt, assessment := c.now, c.client, c.attempt, c.assessment
	alertIn := c.alertInput(u)
	token, hash, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	s := &Session{
		ID: newID(), UserID: u.ID, UserEmail: u.Email, Username: u.Username,
		Status: StatusActive, AuthMethod: method, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Duration(m.timeoutsOf(c.settings).MaxSessionAge.Value)), IP: client.IP, UserAgent: client.UserAgent, DeviceID: client.DeviceID,
		Device: attempt.Device, Location: attempt.Geo.Location, Threat: attempt.Geo.Threat,
		Score: assessment.Score, Reasons: assessment.Reasons, RefreshFamily: newID(), RefreshRotatedAt: now,
		AuthContext: loginAuth(method, c.proof, now),
	}
	if s.Reasons == nil {
		s.Reasons = []RiskReason{}
	}
	if err := m.bindSession(ctx, s, client, now); err != nil {
		return nil, err
	}
	if s.RefreshSealed, err = m.cfg.Secrets.Seal([]byte(token), []byte(s.ID)); err != nil {
		return nil, err
	}
	if err := m.store.CreateSession(ctx, s, hash); err != nil {
		return nil, err
	}
	// An admin may have blocked the user while this login was checked
	// (SetBlocked writes Blocked before it ends the sessions), or the
	// email's owner may have proven it and voided the password (proveEmail
	// clears it before it ends the sessions): look again, so no session
	// born in that window survives the block or the voided password.
	fresh, err := m.store.UserByID(ctx, u.ID)
	voided := err == nil && method == AuthPassword && fresh.PasswordHash != u.PasswordHash
	if err != nil || fresh.Blocked || voided {
		reason := EndBlocked
		if voided {
			reason = EndPasswordChanged
		}
		_, _ = m.store.EndSession(context.WithoutCancel(ctx), s.ID, reason, now)
		m.afterEnd(ctx, s.ID, u.ID, reason, now)
		switch {
		case err != nil:
			return nil, err
		case voided:
			return nil, invalidCredentials()
		}
		return nil, blockedUser()
	}
	alertIn.Session = s
	e := &Event{Type: EventLoginSucceeded, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, SessionID: s.ID, Country: s.Location.CountryCode,
		IP: ipText(client.IP), UserAgent: client.UserAgent,
		Data: jsonObject("method", method, "score", s.Score, "reasons", s.Reasons, "action", assessment.Action, "threat", s.Threat, "device", s.Device,
			"acr", s.ACR, "amr", s.AMR, "trustedDevice", c.trusted),
		Personal: jsonObject("location", s.Location)}
	if err := m.record(ctx, e, alertIn); err != nil {
		// Nothing is acknowledged without its audit event: undo the session.
		_, _ = m.store.EndSession(context.WithoutCancel(ctx), s.ID, EndManual, now)
		return nil, err
	}
	access, claims, err := m.cfg.Tokens.Issue(ctx, u.ID, s.ID, s.AuthContext, s.DPoPJKT, now)
	if err != nil {
		return nil, err
	}
	// The cached state keys on the token's own strings: the verified-token
	// cache holds the same memory (docs/PERFORMANCE.md, memory per session).
	m.states.put(claims.SessionID, sessionState{userID: claims.Subject, email: u.Email, status: StatusActive, expiresAt: s.ExpiresAt, fetched: now})
	m.noteSeen(claims.SessionID, now)
	if c.settings.MaxSessionsPerUser > 0 {
		m.evictOverCap(ctx, u.ID, c.settings.MaxSessionsPerUser)
	}
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.Login(method, "ok")
	}
	m.publish(ctx, Message{Kind: MsgSessionChanged, SessionID: s.ID, UserID: u.ID})
	return &LoginResult{AccessToken: access, Claims: claims, RefreshToken: token, User: fresh, Session: s}, nil
}

// evictOverCap ends the user's oldest live sessions beyond the cap.
func (m *Manager) evictOverCap(ctx context.Context, userID string, limit int) {
	page, err := m.store.ListSessions(ctx, SessionFilter{UserID: userID, Status: []Status{StatusActive, StatusInactive}, Sort: SortCreated, Desc: true, Limit: 500})
	if err != nil {
		m.log.Error("session cap: list sessions", "err", err)
		return
	}
	for i := limit; i < len(page.Sessions); i++ {
		if err := m.EndSession(ctx, page.Sessions[i].ID, EndEvicted, Actor{Type: ActorSystem}); err != nil && !IsNotFound(err) {
			m.log.Error("session cap: evict", "err", err)
		}
	}
}
