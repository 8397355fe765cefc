package sessionmanager

import (
	"context"
	"slices"
)

// EventSessionSteppedUp: the user of a session proved themselves again with
// a factor (POST /api/auth/step-up); data: method, acr.
const EventSessionSteppedUp = "session.stepped_up"

// StepUpResult is the answer to a step-up: a fresh access token carrying
// the raised auth_time, amr and acr. The refresh token stays; refreshes
// carry the session's new AuthContext from now on.
type StepUpResult struct {
	AccessToken string
	Claims      AccessClaims
}

// StepUp re-verifies the user of the current session p with a factor that
// needs no earlier step (totp, recovery_code: Proof.Code), raises the
// session's AuthContext (auth_time now, the factor's amr, acr 2) and
// issues a fresh access token. Every attempt counts against the account
// and the address as a login does (a stolen access token buys no free
// guesses); a wrong code is EINVALID invalid_code, a method the user
// cannot answer with EINVALID method_not_offered.
func (m *Manager) StepUp(ctx context.Context, p Principal, proof Proof, actor Actor) (*StepUpResult, error) {
	if err := checkTexts("method", proof.Method, "code", proof.Code); err != nil {
		return nil, err
	}
	if err := m.RequireFeature(FeatureChallenge, "Step-up"); err != nil {
		return nil, err
	}
	f := m.stepUpFactor(proof.Method)
	if f == nil {
		return nil, &Error{Code: EINVALID, Message: "Step-up accepts the methods totp and recovery_code", Reason: ReasonMethodNotOffered,
			Fields: map[string]string{"method": "must be totp or recovery_code"}}
	}
	if proof.Code == "" {
		return nil, InvalidFields(map[string]string{"code": "is required"})
	}
	u, err := m.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	offered, err := f.Offered(ctx, u)
	if err != nil {
		return nil, err
	}
	if !offered {
		return nil, &Error{Code: EINVALID, Message: "This account has no " + proof.Method + " to verify with", Reason: ReasonMethodNotOffered,
			Fields: map[string]string{"method": "is not enrolled"}}
	}
	try, err := m.reserveAttempt(ctx, m.cfg.Throttle, failKeyAccount(u.ID), failKeyIP(proof.Client.IP))
	if err != nil {
		return nil, err
	}
	// The proof is checked as a challenge of this session would check it:
	// the factor sees the user and the client, nothing else.
	c := &Challenge{UserID: u.ID, Methods: []string{proof.Method}, IP: proof.Client.IP, UserAgent: proof.Client.UserAgent}
	if err := f.Verify(ctx, c, proof); err != nil {
		m.audit(ctx, &Event{Type: EventSessionSteppedUp, ActorType: actor.Type, ActorID: actor.ID, UserID: u.ID, SessionID: p.SessionID, IP: actor.IP,
			Data: jsonObject("method", proof.Method, "outcome", ChallengeFailed)}, nil)
		return nil, err
	}
	try.succeeded(ctx)
	return m.raiseAuth(ctx, p, u, proof.Method, actor)
}

// stepUpFactor is the registered factor of method if a step-up can use it
// without an earlier step (a code the user already holds).
func (m *Manager) stepUpFactor(method string) Factor {
	if method != MethodTOTP && method != MethodRecoveryCode {
		return nil
	}
	return m.Factor(method)
}

// raiseAuth records a passed step-up on the session and issues the access
// token that carries it.
func (m *Manager) raiseAuth(ctx context.Context, p Principal, u *User, method string, actor Actor) (*StepUpResult, error) {
	s, err := m.store.SessionByID(ctx, p.SessionID)
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	if !s.Live(now) {
		return nil, SessionTerminated(s.EndReason)
	}
	st, ok := m.store.(SessionAuthStore)
	if !ok {
		return nil, Errorf(EINTERNAL, "the store cannot record a step-up")
	}
	ac := AuthContext{AuthTime: now, AMR: stepUpAMR(s.AMR, AMROTP), ACR: ACRMultiFactor}
	if err := st.SetSessionAuth(ctx, s.ID, ac); err != nil {
		return nil, err
	}
	tok, claims, err := m.cfg.Tokens.Issue(ctx, u.ID, s.ID, ac, now)
	if err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventSessionSteppedUp, ActorType: actor.Type, ActorID: actor.ID, UserID: u.ID, SessionID: s.ID, IP: actor.IP,
		Data: jsonObject("method", method, "outcome", ChallengePassed, "acr", ac.ACR)}, nil)
	return &StepUpResult{AccessToken: tok, Claims: claims}, nil
}

// stepUpAMR adds the step-up's method reference to the session's and marks
// the proof multi-factor ("mfa") once it holds two kinds.
func stepUpAMR(had []string, add string) []string {
	out := slices.Clone(had)
	if !slices.Contains(out, add) {
		out = append(out, add)
	}
	if len(out) > 1 && !slices.Contains(out, AMRMFA) {
		out = append(out, AMRMFA)
	}
	return out
}
