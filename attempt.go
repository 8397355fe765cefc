package sessionmanager

import (
	"context"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"
)

// ThrottleFunc decides the progressive delay and refusal of a sign-in
// attempt from the recent failures of its account and of its address (the
// attempts reserved before this one). Each attempt first asks with
// failedAccount 0 (the address alone, before any account is counted), so
// a policy must be monotonic in both counts.
type ThrottleFunc func(failedAccount, failedIP int64) (delay time.Duration, refuse bool, retryAfter time.Duration)

// attempt is a sign-in attempt reserved against the failure counters
// before its credentials are checked. Reserving first (an atomic increment
// in the shared counter, then a decision from the count it returned) means
// a burst of parallel attempts cannot all pass a check made before any of
// them failed: each sees the ones in flight before it.
type attempt struct {
	m       *Manager
	acctKey string // "" when the attempt names no account
	ipKey   string
	// window is the counters' window; counted[i] is when the Incr of ipKey
	// (0) and acctKey (1) returned: a give-back takes only from the window
	// that counted this attempt (Counter.Decr).
	window  time.Duration
	counted [2]time.Time
}

// reserveAttempt counts one attempt for ipKey (a failKeyIP, so IPv6 counts
// by /64) and then, unless the address alone is refused, for acctKey
// (either skipped when ""), then applies
// policy to the counts before it: refuse (ETOOMANY), or hold the attempt
// for the delay. While an account is being slowed, each address may have
// one attempt per delay on it; the others are refused at once rather than
// held, so the delay cannot pile up requests in flight, and attacks from
// other addresses never take the real user's turn. policy nil only counts.
func (m *Manager) reserveAttempt(ctx context.Context, policy ThrottleFunc, acctKey, ipKey string) (*attempt, error) {
	window := m.failWindow(ctx)
	a := &attempt{m: m, acctKey: acctKey, ipKey: ipKey, window: window}
	var counts [2]int64
	for i, key := range []string{ipKey, acctKey} {
		if key == "" {
			continue
		}
		n, err := m.fails.Incr(ctx, key, window)
		if err != nil {
			return nil, err
		}
		a.counted[i] = m.clock.Now()
		counts[i] = n - 1 // the attempts before this one
		// An address the policy refuses on its own count is refused before
		// its attempt touches an account counter: a flood of made-up names
		// from a refused address creates no keys (which, in the bounded
		// in-memory counter, would evict others' counts) and does not count
		// against a real account.
		if i == 0 && acctKey != "" && policy != nil {
			if _, refuse, retry := policy(0, counts[0]); refuse {
				return nil, tooManyAttempts(retry)
			}
		}
	}
	if policy == nil {
		return a, nil
	}
	delay, refuse, retry := policy(counts[1], counts[0])
	if refuse {
		return nil, tooManyAttempts(retry)
	}
	if delay <= 0 {
		return a, nil
	}
	turn, err := m.fails.Incr(ctx, "turn:"+acctKey+"|"+a.ipKey, max(delay, time.Millisecond))
	if err != nil {
		return nil, err
	}
	if turn > 1 {
		return nil, tooManyAttempts(delay)
	}
	if !sleep(ctx, m.clock, delay) {
		return nil, ctx.Err()
	}
	return a, nil
}

// succeeded gives back what a legitimate attempt reserved: the address's
// count (an office behind one NAT is not refused for signing in) and the
// account's failures (a correct password clears them; it only ever
// slowed). An attacker's own failures from that address stay counted.
func (a *attempt) succeeded(ctx context.Context) {
	if a.acctKey != "" {
		_ = a.m.fails.Reset(ctx, a.acctKey)
	}
	if a.ipKey != "" {
		_ = a.m.fails.Decr(ctx, a.ipKey, a.left(0))
	}
}

// refund takes back this attempt's own count from each of its keys.
func (a *attempt) refund(ctx context.Context) {
	for i, key := range []string{a.ipKey, a.acctKey} {
		if key != "" {
			_ = a.m.fails.Decr(ctx, key, a.left(i))
		}
	}
}

// left is the most that the window which counted key i (0: the address, 1:
// the account) can still have to run: a window started later, after that
// one expired, is not given this attempt's count back.
func (a *attempt) left(i int) time.Duration {
	return a.window - a.m.clock.Now().Sub(a.counted[i])
}

// tooManyAttempts is the 429 of a refused sign-in attempt.
func tooManyAttempts(retry time.Duration) *Error {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &Error{Code: ETOOMANY, Message: "Too many failed logins; try again later", Reason: "too_many_attempts", RetryAfterSeconds: secs}
}

// blockedUser is Strapi's answer to a blocked account (after its
// credentials were proven).
func blockedUser() *Error {
	return &Error{Code: EFORBIDDEN, Message: "Your account has been blocked by an administrator", Reason: ReasonUserBlocked}
}

// SignIn is a sign-in attempt counted before its credentials are checked.
type SignIn struct{ try *attempt }

// AdminSignIn is a dashboard sign-in attempt (ReserveAdminSignIn).
type AdminSignIn = SignIn

// ReserveSignIn is the throttle of Login for an application that checks
// its own credentials (the Manager's users or not): it counts a sign-in
// for account from ip in the failure counter (shared through Redis when
// Failures is), per address as Login counts it (IPv6 by /64) and per
// account (under a keyed hash of the name, known or not), and refuses
// (ETOOMANY) or slows it by Config.Throttle. Call Succeeded when the
// credentials were right; a failure needs nothing more.
func (m *Manager) ReserveSignIn(ctx context.Context, account string, ip netip.Addr) (*SignIn, error) {
	return m.reserveSignIn(ctx, m.cfg.Throttle, "app", account, ip)
}

// ReserveAdminSignIn counts a dashboard sign-in for email from ip like
// ReserveSignIn, in counts of their own, and refuses (ETOOMANY) or slows it
// by Config.AdminThrottle.
func (m *Manager) ReserveAdminSignIn(ctx context.Context, email string, ip netip.Addr) (*AdminSignIn, error) {
	return m.reserveSignIn(ctx, m.cfg.AdminThrottle, "admin", email, ip)
}

// reserveSignIn reserves an attempt under keys of the kind ("app",
// "admin"); the admin keys are the ones the dashboard always used.
func (m *Manager) reserveSignIn(ctx context.Context, policy ThrottleFunc, kind, account string, ip netip.Addr) (*SignIn, error) {
	h := m.cfg.Secrets.LookupHash(kind + "-sign-in:" + strings.ToLower(strings.TrimSpace(account)))
	ipKey := failKeyIP(ip)
	if kind == "admin" {
		ipKey = "admin:" + ipKey
	}
	try, err := m.reserveAttempt(ctx, policy, kind+":acct:"+hex.EncodeToString(h[:16]), ipKey)
	if err != nil {
		return nil, err
	}
	return &SignIn{try: try}, nil
}

// Succeeded gives back what the sign-in reserved and clears the account's
// failures. Call it only when the sign-in is complete: after the second
// factor too, when one is asked (SecondFactorDue before that).
func (a *SignIn) Succeeded(ctx context.Context) { a.try.succeeded(ctx) }

// SecondFactorDue is for a first step that passed when a second factor is
// still to come: it gives back this attempt's own count (for the account
// and the address) but clears no earlier failure. Only Succeeded, at the
// end of the whole sign-in, clears them: a right password sent again and
// again cannot wipe out the wrong codes guessed after it, which count
// toward the account's limit like wrong passwords.
func (a *SignIn) SecondFactorDue(ctx context.Context) { a.try.refund(ctx) }
