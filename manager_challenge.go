package sessionmanager

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// factorSet is the factors registered on a Manager, by method.
type factorSet struct {
	mu sync.RWMutex
	by map[string]Factor
}

func (fs *factorSet) add(f Factor) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.by == nil {
		fs.by = map[string]Factor{}
	}
	fs.by[f.Method()] = f
}

func (fs *factorSet) get(method string) Factor {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.by[method]
}

// ordered lists the factors strongest first (methodRank), then any other
// method by name.
func (fs *factorSet) ordered() []Factor {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	out := make([]Factor, 0, len(fs.by))
	for _, m := range methodRank {
		if f := fs.by[m]; f != nil {
			out = append(out, f)
		}
	}
	var rest []string
	for m := range fs.by {
		if !slices.Contains(methodRank, m) && m != MethodRecoveryCode {
			rest = append(rest, m)
		}
	}
	sort.Strings(rest)
	for _, m := range rest {
		out = append(out, fs.by[m])
	}
	return out
}

// RegisterFactor adds a factor (TOTP, WebAuthn...) that challenges may be
// answered with; a later one with the same Method replaces it. Register
// before serving. A recovery_code factor is accepted wherever totp is
// offered.
func (m *Manager) RegisterFactor(f Factor) { m.factors.add(f) }

// Factor returns the registered factor of method, nil when none.
func (m *Manager) Factor(method string) Factor { return m.factors.get(method) }

// offeredMethods lists the factors u can answer a challenge with,
// strongest first. A sign-in link already proved the mailbox: an emailed
// code would prove it again, so it is not offered after one.
func (m *Manager) offeredMethods(ctx context.Context, u *User, first AuthMethod) ([]string, error) {
	var out []string
	for _, f := range m.factors.ordered() {
		if f.Method() == MethodEmail && first == AuthMagicLink {
			continue
		}
		ok, err := f.Offered(ctx, u)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f.Method())
		}
	}
	return out, nil
}

// challenges is the store's ChallengeStore (an optional ability).
func (m *Manager) challenges() (ChallengeStore, error) {
	cs, ok := m.store.(ChallengeStore)
	if !ok {
		return nil, Errorf(EUNAVAILABLE, "challenges are not supported by this store")
	}
	return cs, nil
}

// challengeHash is the keyed hash a challenge is stored and found by.
func (m *Manager) challengeHash(id string) []byte {
	return m.cfg.Secrets.LookupHash("challenge:" + id)
}

// decideChallenge settles a challenge verdict of checkLogin: with factors
// to offer it stays a challenge (c.methods); without, the settings'
// ChallengeFallback decides: block (reason challenge_unavailable, the
// default) or alert (the login goes on, the alert rules see it).
func (m *Manager) decideChallenge(ctx context.Context, u *User, method AuthMethod, c *loginCheck, signup bool) error {
	if !signup {
		methods, err := m.offeredMethods(ctx, u, method)
		if err != nil {
			return err
		}
		if len(methods) > 0 {
			c.methods = methods
			return nil
		}
	}
	if c.settings.ChallengeFallback == ChallengeFallbackAlert {
		c.assessment.Action = ActionAlert
		return nil
	}
	c.assessment.Action = ActionBlock
	if c.assessment.BlockReason == "" {
		c.assessment.BlockReason = ReasonChallengeUnavailable
	}
	return nil
}

// challengeLogin creates the pending challenge of an attempt checkLogin
// judged a challenge, records login.challenged and answers the 401
// challenge_required. No session exists until VerifyChallenge.
func (m *Manager) challengeLogin(ctx context.Context, u *User, method AuthMethod, c *loginCheck) error {
	cs, err := m.challenges()
	if err != nil {
		return err
	}
	id, _, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return err
	}
	ch := &Challenge{
		ID: id, Hash: m.challengeHash(id), UserID: u.ID, FirstFactor: method, Methods: c.methods,
		IP: c.client.IP, UserAgent: c.client.UserAgent,
		Facts: ChallengeFacts{Device: c.attempt.Device, Location: c.attempt.Geo.Location, Threat: c.attempt.Geo.Threat, Assessment: c.assessment,
			DeviceID: c.client.DeviceID, User: ChallengeUser{Email: u.Email, Username: u.Username}, Previous: previousLogin(c.history.Previous)},
		CreatedAt: c.now, ExpiresAt: c.now.Add(ChallengeTTL),
	}
	if method == AuthPassword {
		ch.Facts.PasswordStamp = m.passwordStamp(u)
	}
	if err := cs.CreateChallenge(ctx, ch); err != nil {
		return err
	}
	a := c.assessment
	e := &Event{Type: EventLoginChallenged, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, Country: c.attempt.Geo.Location.CountryCode,
		IP: ipText(c.client.IP), UserAgent: c.client.UserAgent,
		Data: jsonObject("reason", a.ChallengeReason, "score", a.Score, "reasons", a.Reasons, "method", method, "methods", ch.Methods,
			"challenge", challengeRef(ch), "threat", c.attempt.Geo.Threat, "device", c.attempt.Device),
		Personal: jsonObject("location", c.attempt.Geo.Location)}
	if err := m.record(ctx, e, c.alertInput(u)); err != nil {
		// Nothing is handed out without its audit event.
		_, _ = cs.EndChallenge(context.WithoutCancel(ctx), ch.Hash, ChallengeFailed, c.now)
		return err
	}
	m.countChallenge(ch.Methods[0], "issued")
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.Login(method, "challenged")
	}
	return &Error{Code: EUNAUTHORIZED, Message: "Additional verification required", Reason: ReasonChallengeRequired,
		Challenge: &ChallengeRequired{ID: id, Methods: ch.Methods, ExpiresAt: ch.ExpiresAt.UTC()}}
}

// passwordStamp is a keyed digest of u's password hash ("" without one).
func (m *Manager) passwordStamp(u *User) string {
	if u.PasswordHash == "" {
		return ""
	}
	return hex.EncodeToString(m.cfg.Secrets.LookupHash("challenge-password:" + u.PasswordHash)[:16])
}

// challengeRef names a challenge in events without its secret id: the
// first 8 bytes of its keyed hash, in hex.
func challengeRef(c *Challenge) string { return hex.EncodeToString(c.Hash[:8]) }

// ChallengeMetrics is an optional Metrics ability: challenges by method
// and outcome (issued, passed, failed): msm_challenges_total.
type ChallengeMetrics interface {
	Challenge(method, outcome string)
}

func (m *Manager) countChallenge(method, outcome string) {
	if cm, ok := m.cfg.Metrics.(ChallengeMetrics); ok {
		cm.Challenge(method, outcome)
	}
}

// failKeyChallenge counts an account's proofs across all its challenges.
// It is not the password's counter: a correct password, which starts a
// new challenge, must not clear the second factor's failures. Only a
// passed challenge does.
func failKeyChallenge(userID string) string { return "fail:challenge:" + userID }

// MaxChallengeFailures is how many proofs an account's challenges may
// have taken within the failed-login window without one passing; past it
// every proof is refused (429) until the window ends, so a thief holding
// the password cannot open challenge after challenge to guess codes.
const MaxChallengeFailures = 20

// findChallenge looks up a challenge id a client sent. Every lookup is
// counted before anything else with the sign-in throttle: against the
// client's address (guessing ids is throttled like guessing passwords)
// and, when the challenge exists, against its account's proofs
// (failKeyChallenge, capped at MaxChallengeFailures). The attempt is
// returned so a passed proof can give it back.
func (m *Manager) findChallenge(ctx context.Context, id string, client ClientInfo) (*Challenge, *attempt, error) {
	cs, err := m.challenges()
	if err != nil {
		return nil, nil, err
	}
	var ch *Challenge
	if m.cfg.Secrets.ValidToken(id) {
		ch, err = cs.ChallengeByHash(ctx, m.challengeHash(id))
		if err != nil && !IsNotFound(err) {
			return nil, nil, err
		}
	}
	userID := ""
	if ch != nil {
		userID = ch.UserID
	}
	try, err := m.reserveProof(ctx, userID, client)
	if err != nil {
		return nil, nil, err
	}
	if ch == nil {
		return nil, nil, ChallengeError(ReasonChallengeUnknown)
	}
	return ch, try, nil
}

// reserveProof counts one second-factor proof before it is checked: for
// the client's address and, when userID is known, for the account
// (failKeyChallenge), refused past MaxChallengeFailures. It is the one
// limit of every proof: a challenge's (findChallenge) and a code-only
// step-up's.
func (m *Manager) reserveProof(ctx context.Context, userID string, client ClientInfo) (*attempt, error) {
	acctKey := ""
	if userID != "" {
		acctKey = failKeyChallenge(userID)
	}
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, acctKey, failKeyIP(client.IP))
	if err != nil {
		return nil, err
	}
	if acctKey == "" {
		return try, nil
	}
	// Counted above (reserve before check), so parallel proofs see it.
	if n, err := m.fails.Get(ctx, acctKey); err != nil {
		return nil, err
	} else if n > MaxChallengeFailures {
		return nil, tooManyAttempts(m.failWindow(ctx))
	}
	return try, nil
}

// sameClient reports whether the client answering is the one that was
// challenged: the same address and user agent.
func (ch *Challenge) sameClient(client ClientInfo) bool {
	return ch.IP == client.IP && ch.UserAgent == client.UserAgent
}

// VerifyChallenge answers a pending challenge with a proof and, when it
// holds, opens the session the challenged login was refused, with exactly
// the answer of a login. The proof is checked, counted and limited by
// passChallenge (5 proofs at most; of parallel good proofs exactly one
// opens a session; another client's proof is refused, 403
// challenge_client_mismatch).
func (m *Manager) VerifyChallenge(ctx context.Context, id string, p Proof) (*LoginResult, error) {
	p.Client = cleanClient(p.Client)
	if err := checkTexts("challengeId", id, "code", p.Code); err != nil {
		return nil, err
	}
	ch, f, try, err := m.passChallenge(ctx, id, p, "")
	if err != nil {
		return nil, err
	}
	try.succeeded(ctx)
	u, err := m.store.UserByID(ctx, ch.UserID)
	if err != nil {
		return nil, err
	}
	if u.Blocked {
		return nil, blockedUser()
	}
	if err := resetPending(u); err != nil {
		return nil, err
	}
	if ch.FirstFactor == AuthPassword && !hmac.Equal([]byte(m.passwordStamp(u)), []byte(ch.Facts.PasswordStamp)) {
		return nil, invalidCredentials() // the password changed since it was checked
	}
	c, err := m.resumeCheck(ctx, u, ch, f, p)
	if err != nil {
		return nil, err
	}
	e := &Event{Type: EventChallengePassed, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, Country: ch.Facts.Location.CountryCode,
		IP: ipText(p.Client.IP), UserAgent: p.Client.UserAgent,
		Data:     jsonObject("method", p.Method, "challenge", challengeRef(ch), "attempts", ch.Attempts, "firstFactor", ch.FirstFactor),
		Personal: jsonObject("location", ch.Facts.Location)}
	if err := m.record(ctx, e, c.alertInput(u)); err != nil {
		return nil, err
	}
	m.countChallenge(p.Method, "passed")
	return m.openSession(ctx, u, ch.FirstFactor, c)
}

// passChallenge checks a proof against the challenge id and ends the
// challenge passed: the one place a challenge is answered, for a login
// (sessionID "") and for the step-up of a live session. Each call is
// counted first: against the address and the account (the sign-in
// throttle) and against the challenge (ReserveChallengeAttempt: 5 proofs at
// most), so parallel guesses cannot overtake the limit; of parallel good
// proofs exactly one passes. A proof from another address or user agent
// than the challenged client ends it (403 challenge_client_mismatch). The
// attempt is returned for the caller to give back once it has acted.
func (m *Manager) passChallenge(ctx context.Context, id string, p Proof, sessionID string) (*Challenge, Factor, *attempt, error) {
	ch, try, err := m.findChallenge(ctx, id, p.Client)
	if err != nil {
		return nil, nil, nil, err
	}
	// A login's challenge finishes only at /api/auth/challenge/verify, a
	// step-up's only at /api/auth/step-up, by the session it belongs to.
	if ch.SessionID != sessionID {
		return nil, nil, nil, ChallengeError(ReasonChallengeUnknown)
	}
	f := m.factors.get(p.Method)
	if f == nil || !ch.Offers(p.Method) {
		return nil, nil, nil, &Error{Code: EINVALID, Message: "This method is not offered for this verification", Reason: ReasonMethodNotOffered,
			Fields: map[string]string{"method": "must be one of the challenge's methods"}}
	}
	cs, _ := m.challenges()
	now := m.clock.Now()
	if ch, err = cs.ReserveChallengeAttempt(ctx, ch.Hash, now, MaxChallengeAttempts); err != nil {
		return nil, nil, nil, err
	}
	if !ch.sameClient(p.Client) {
		m.challengeFailed(ctx, cs, ch, p, ReasonChallengeMismatch)
		return nil, nil, nil, &Error{Code: EFORBIDDEN, Message: "This verification belongs to another device; sign in again", Reason: ReasonChallengeMismatch}
	}
	if err := f.Verify(ctx, ch, p); err != nil {
		if code := ErrorCode(err); code != EINVALID && code != EUNAUTHORIZED {
			return nil, nil, nil, err // a system failure is no wrong proof
		}
		left := m.challengeFailed(ctx, cs, ch, p, ErrorReason(err))
		if left == 0 {
			return nil, nil, nil, ChallengeError(ReasonChallengeFailed)
		}
		return nil, nil, nil, withAttemptsLeft(err, left)
	}
	ended, err := cs.EndChallenge(ctx, ch.Hash, ChallengePassed, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if !ended {
		return nil, nil, nil, ChallengeError(ReasonChallengeUsed)
	}
	return ch, f, try, nil
}

// resumeCheck rebuilds the verdict of a challenged attempt for the
// session its passed challenge opens: the facts the policy judged then
// (with the previous login the alerts name, read by the login), today's
// settings, and the proof's amr.
func (m *Manager) resumeCheck(ctx context.Context, u *User, ch *Challenge, f Factor, p Proof) (*loginCheck, error) {
	c := &loginCheck{now: m.clock.Now(), client: p.Client}
	c.client.DeviceID = ch.Facts.DeviceID
	c.attempt = LoginAttempt{UserID: u.ID, IP: ch.IP, At: c.now, Device: ch.Facts.Device, Geo: GeoResult{Location: ch.Facts.Location, Threat: ch.Facts.Threat}}
	c.settings = m.effectiveSettings(m.currentSettings(ctx))
	c.assessment = ch.Facts.Assessment
	c.history.Previous = ch.Facts.Previous.session()
	c.proof = factorAMR(f, ch, p)
	return c, nil
}

// factorAMR is what a passed proof adds to the session's amr.
func factorAMR(f Factor, ch *Challenge, p Proof) []string {
	if a, ok := f.(FactorAMR); ok {
		return a.AMR(ch, p)
	}
	if p.Method == MethodWebAuthn {
		return []string{AMRHardwareKey}
	}
	return []string{AMROTP}
}

// loginAuth is the auth context of a session opened at now by the first
// factor method and the proofs of a passed challenge (none without one).
// A proof of another kind than the first factor makes it multi-factor
// (mfa, acr 2); an emailed code after a sign-in link proves the same
// mailbox and does not.
func loginAuth(method AuthMethod, proof []string, now time.Time) AuthContext {
	var amr []string
	switch method {
	case AuthPassword:
		amr = []string{AMRPassword}
	case AuthMagicLink:
		amr = []string{AMREmail}
	}
	a := AuthContext{AuthTime: now, ACR: ACRSingle}
	for _, v := range proof {
		if !slices.Contains(amr, v) {
			amr = append(amr, v)
		}
	}
	if len(proof) > 0 && !(method == AuthMagicLink && slices.Equal(proof, []string{AMROTP})) {
		if !slices.Contains(amr, AMRMFA) {
			amr = append(amr, AMRMFA)
		}
		a.ACR = ACRMultiFactor
	}
	a.AMR = amr
	return a
}

// challengeFailed records a wrong proof (challenge.failed, metrics) and
// ends the challenge at its last attempt. It returns the attempts left.
func (m *Manager) challengeFailed(ctx context.Context, cs ChallengeStore, ch *Challenge, p Proof, why string) int {
	left := max(0, MaxChallengeAttempts-ch.Attempts)
	if why == ReasonChallengeMismatch {
		left = 0 // another device holds the id: the challenge is spent
	}
	now := m.clock.Now()
	if left == 0 {
		if _, err := cs.EndChallenge(context.WithoutCancel(ctx), ch.Hash, ChallengeFailed, now); err != nil {
			m.log.Error("challenge: end after the last wrong proof", "err", err)
		}
	}
	e := &Event{Type: EventChallengeFailed, ActorType: ActorUser, ActorID: ch.UserID, UserID: ch.UserID, Country: ch.Facts.Location.CountryCode,
		IP: ipText(p.Client.IP), UserAgent: p.Client.UserAgent,
		Data: jsonObject("method", p.Method, "reason", why, "challenge", challengeRef(ch), "attempts", ch.Attempts, "ended", left == 0)}
	m.audit(ctx, e, &AlertInput{User: m.alertUser(ctx, ch), Location: ch.Facts.Location, Threat: ch.Facts.Threat, Device: ch.Facts.Device, Assessment: &ch.Facts.Assessment})
	m.countChallenge(p.Method, "failed")
	return left
}

// withAttemptsLeft adds the attempts left to a factor's refusal.
func withAttemptsLeft(err error, left int) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Details = map[string]string{"attemptsLeft": strconv.Itoa(left)}
	for k, v := range e.Details {
		c.Details[k] = v
	}
	return &c
}

// ErrorReason returns the reason code of err ("" when none).
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// RequireRecentAuth refuses with StepUpRequired (401 step_up_required)
// unless the user of the session proved themselves within maxAge with at
// least the class minACR. It reads the session from the store, where a
// passed step-up is recorded before any new token is issued.
func (m *Manager) RequireRecentAuth(ctx context.Context, sessionID string, maxAge time.Duration, minACR string) error {
	s, err := m.store.SessionByID(ctx, sessionID)
	if err != nil {
		return err
	}
	now := m.clock.Now()
	if !s.Live(now) {
		return terminated(s.EndReason)
	}
	if !RecentAuth(s.AuthContext, now, maxAge, minACR) {
		return StepUpRequired(maxAge, minACR)
	}
	return nil
}

// PendingChallenge returns the open challenge of id for a factor that
// hands something out before the proof (the email code, WebAuthn
// options): the challenge must be open, offer method, and be asked for by
// the challenged client (same IP and user agent). Every lookup, made-up
// ids included, counts against the client IP's limit of such requests
// (Config.ChallengeMail.PerIP per window); it counts no proof.
func (m *Manager) PendingChallenge(ctx context.Context, id, method string, client ClientInfo) (*Challenge, error) {
	client = cleanClient(client)
	if err := checkTexts("challengeId", id, "method", method); err != nil {
		return nil, err
	}
	cs, err := m.challenges()
	if err != nil {
		return nil, err
	}
	lim := m.cfg.ChallengeMail.withDefaults()
	if err := m.limitBoth(ctx, []counterLimit{{"cc:" + failKeyIP(client.IP), lim.PerIP}}, lim.Window, "Too many requests; try again later"); err != nil {
		return nil, err
	}
	var ch *Challenge
	if m.cfg.Secrets.ValidToken(id) {
		if ch, err = cs.ChallengeByHash(ctx, m.challengeHash(id)); err != nil && !IsNotFound(err) {
			return nil, err
		}
	}
	switch {
	case ch == nil:
		return nil, ChallengeError(ReasonChallengeUnknown)
	case ch.ClosedReason(m.clock.Now(), MaxChallengeAttempts) != "":
		return nil, ChallengeError(ch.ClosedReason(m.clock.Now(), MaxChallengeAttempts))
	case !ch.Offers(method) || m.factors.get(method) == nil:
		return nil, &Error{Code: EINVALID, Message: "This method is not offered for this verification", Reason: ReasonMethodNotOffered, Fields: map[string]string{"method": "is not offered"}}
	case !ch.sameClient(client):
		return nil, &Error{Code: EFORBIDDEN, Message: "This verification belongs to another device; sign in again", Reason: ReasonChallengeMismatch}
	}
	return ch, nil
}

// SetChallengeState keeps a factor's state (e.g. a WebAuthn session,
// sealed by the factor) on an open challenge until its proof.
func (m *Manager) SetChallengeState(ctx context.Context, c *Challenge, state []byte) error {
	cs, err := m.challenges()
	if err != nil {
		return err
	}
	return cs.SetChallengeState(ctx, c.Hash, state)
}
