package sessionmanager

import (
	"context"
	"slices"
	"time"
)

// EventSessionSteppedUp: the user of a session proved themselves again with
// a factor (POST /api/auth/step-up); data: method, acr.
const EventSessionSteppedUp = "session.stepped_up"

// MaxStepUpChallenges is how many step-up challenges one session may start
// per ChallengeTTL.
const MaxStepUpChallenges = 10

// MaxStepUpFailures is how many code-only step-ups (totp, recovery_code
// without a challenge) one session may try within the failed-login window
// without one passing; past it the session is refused (429) until the
// window ends or its user signs in again.
const MaxStepUpFailures = 5

// failKeyStepUp counts a session's code-only step-up proofs.
func failKeyStepUp(sessionID string) string { return "fail:step-up:" + sessionID }

// StepUpResult is the answer to a step-up: a fresh access token carrying
// the raised auth_time, amr and acr. The refresh token stays; refreshes
// carry the session's new AuthContext from now on.
type StepUpResult struct {
	AccessToken string
	Claims      AccessClaims
}

// BeginStepUp opens a challenge bound to the live session p for a step-up
// by a factor that needs a step first: the email code (then
// POST /api/auth/challenge/send) or a passkey (POST
// /api/auth/challenge/options). The methods are the user's factors,
// strongest first; none is EINVALID no_factor.
func (m *Manager) BeginStepUp(ctx context.Context, p Principal, client ClientInfo) (*ChallengeRequired, error) {
	client = cleanClient(client)
	if err := m.RequireFeature(FeatureChallenge, "Step-up"); err != nil {
		return nil, err
	}
	cs, err := m.challenges()
	if err != nil {
		return nil, err
	}
	// Each start writes a challenge: a session may start a few per
	// challenge lifetime, on every instance together.
	if n, err := m.fails.Incr(ctx, "step-up:"+p.SessionID, ChallengeTTL); err != nil {
		return nil, err
	} else if n > MaxStepUpChallenges {
		return nil, &Error{Code: ETOOMANY, Message: "Too many verifications started; try again later", Reason: "too_many_step_ups",
			RetryAfterSeconds: int(ChallengeTTL / time.Second)}
	}
	now := m.clock.Now()
	s, err := m.liveSession(ctx, p.SessionID, p.UserID, now)
	if err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if err := resetPending(u); err != nil {
		return nil, err
	}
	methods, err := m.offeredMethods(ctx, u, s.AuthMethod)
	if err != nil {
		return nil, err
	}
	if len(methods) == 0 {
		return nil, &Error{Code: EINVALID, Message: "This account has no factor to verify with; add one first", Reason: "no_factor"}
	}
	id, _, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	ch := &Challenge{ID: id, Hash: m.challengeHash(id), UserID: u.ID, FirstFactor: s.AuthMethod, Methods: methods, SessionID: s.ID,
		IP: client.IP, UserAgent: client.UserAgent, Facts: ChallengeFacts{Device: s.Device, Location: s.Location, Threat: s.Threat,
			User: ChallengeUser{Email: u.Email, Username: u.Username}},
		CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL)}
	if err := cs.CreateChallenge(ctx, ch); err != nil {
		return nil, err
	}
	m.countChallenge(methods[0], "issued")
	return &ChallengeRequired{ID: id, Methods: methods, ExpiresAt: ch.ExpiresAt.UTC()}, nil
}

// StepUp re-verifies the user of the current session p, raises the
// session's AuthContext (auth_time now, the factor's amr, acr 2) and
// issues a fresh access token. With challengeID the proof answers the
// session's step-up challenge (BeginStepUp; any factor it offers, checked
// by passChallenge); without, it is a code the user already holds (totp,
// recovery_code), counted as a challenge's proof is (reserveProof: the
// account's MaxChallengeFailures and the address) and per session
// (MaxStepUpFailures), so a stolen access token buys no free guesses. A wrong code is EINVALID
// invalid_code, a method the user cannot answer with EINVALID
// method_not_offered.
func (m *Manager) StepUp(ctx context.Context, p Principal, challengeID string, proof Proof, actor Actor) (*StepUpResult, error) {
	proof.Client = cleanClient(proof.Client)
	if err := checkTexts("challengeId", challengeID, "method", proof.Method, "code", proof.Code); err != nil {
		return nil, err
	}
	if err := m.RequireFeature(FeatureChallenge, "Step-up"); err != nil {
		return nil, err
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if err := resetPending(u); err != nil {
		return nil, err
	}
	if challengeID != "" {
		ch, f, try, err := m.passChallenge(ctx, challengeID, proof, p.SessionID)
		if err != nil {
			return nil, err
		}
		try.succeeded(ctx)
		return m.raiseAuth(ctx, p, proof.Method, factorAMR(f, ch, proof), actor)
	}
	f := m.stepUpFactor(proof.Method)
	if f == nil {
		return nil, &Error{Code: EINVALID, Message: "Without a challengeId, step-up accepts the methods totp and recovery_code", Reason: ReasonMethodNotOffered,
			Fields: map[string]string{"method": "must be totp or recovery_code (or start a step-up challenge)"}}
	}
	if proof.Code == "" {
		return nil, InvalidFields(map[string]string{"code": "is required"})
	}
	offered, err := f.Offered(ctx, u)
	if err != nil {
		return nil, err
	}
	if !offered {
		return nil, &Error{Code: EINVALID, Message: "This account has no " + proof.Method + " to verify with", Reason: ReasonMethodNotOffered,
			Fields: map[string]string{"method": "is not enrolled"}}
	}
	// Counted before the check, as every proof is: per session (a stolen
	// access token buys MaxStepUpFailures guesses, then its thief must sign
	// in again or wait the window) and per account and address with the
	// challenges' proofs (reserveProof: MaxChallengeFailures in all).
	sessionKey := failKeyStepUp(p.SessionID)
	if n, err := m.fails.Incr(ctx, sessionKey, m.failWindow(ctx)); err != nil {
		return nil, err
	} else if n > MaxStepUpFailures {
		return nil, tooManyAttempts(m.failWindow(ctx))
	}
	try, err := m.reserveProof(ctx, u.ID, proof.Client)
	if err != nil {
		return nil, err
	}
	// The factor sees what a challenge of this session would show it: the
	// user and the client.
	c := &Challenge{UserID: u.ID, Methods: []string{proof.Method}, SessionID: p.SessionID, IP: proof.Client.IP, UserAgent: proof.Client.UserAgent}
	if err := f.Verify(ctx, c, proof); err != nil {
		m.audit(ctx, &Event{Type: EventSessionSteppedUp, ActorType: actor.Type, ActorID: actor.ID, UserID: u.ID, SessionID: p.SessionID, IP: actor.IP,
			Data: jsonObject("method", proof.Method, "outcome", ChallengeFailed)}, nil)
		m.countChallenge(proof.Method, "failed")
		return nil, err
	}
	try.succeeded(ctx)
	_ = m.fails.Reset(ctx, sessionKey)
	return m.raiseAuth(ctx, p, proof.Method, factorAMR(f, c, proof), actor)
}

// stepUpFactor is the registered factor of method if a step-up can use it
// without a challenge (a code the user already holds).
func (m *Manager) stepUpFactor(method string) Factor {
	if method != MethodTOTP && method != MethodRecoveryCode {
		return nil
	}
	return m.Factor(method)
}

// raiseAuth records a passed step-up on the session and issues the access
// token that carries it.
func (m *Manager) raiseAuth(ctx context.Context, p Principal, method string, amr []string, actor Actor) (*StepUpResult, error) {
	now := m.clock.Now()
	s, err := m.liveSession(ctx, p.SessionID, p.UserID, now)
	if err != nil {
		return nil, err
	}
	st, ok := m.store.(SessionAuthStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store cannot record a step-up")
	}
	ac := AuthContext{AuthTime: now, AMR: stepUpAMR(s.AMR, amr), ACR: ACRMultiFactor}
	if err := st.SetSessionAuth(ctx, s.ID, ac); err != nil {
		return nil, err
	}
	tok, claims, err := m.cfg.Tokens.Issue(ctx, s.UserID, s.ID, ac, s.DPoPJKT, now)
	if err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventSessionSteppedUp, ActorType: actor.Type, ActorID: actor.ID, UserID: s.UserID, SessionID: s.ID, IP: actor.IP,
		Data: jsonObject("method", method, "outcome", ChallengePassed, "acr", ac.ACR)}, nil)
	m.countChallenge(method, "passed")
	return &StepUpResult{AccessToken: tok, Claims: claims}, nil
}

// stepUpAMR adds the step-up's method references to the session's and
// marks the proof multi-factor ("mfa") once it holds two kinds.
func stepUpAMR(had, add []string) []string {
	out := slices.Clone(had)
	for _, a := range add {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) > 1 && !slices.Contains(out, AMRMFA) {
		out = append(out, AMRMFA)
	}
	return out
}
