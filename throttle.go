package sessionmanager

import "time"

// ThrottleLimits configures the brute-force throttle. A zero count turns
// its rule off.
type ThrottleLimits struct {
	// AccountSlowAfter: from this many recent failures for one account on,
	// every attempt on it is delayed. It never refuses: refusing by account
	// would let anyone lock a real user out by guessing wrong on purpose.
	AccountSlowAfter int64
	// IPSlowAfter: from this many recent failures from one address on,
	// every attempt from it is delayed.
	IPSlowAfter int64
	// IPRefuseAfter: from this many recent failures from one address on,
	// attempts from it are refused (429 with Retry-After).
	IPRefuseAfter int64
	// BaseDelay is the first delay; each further failure doubles it.
	BaseDelay time.Duration
	// MaxDelay caps the delay (0 = no cap).
	MaxDelay time.Duration
	// Window is how long failures count; a refused address may retry once
	// it has passed.
	Window time.Duration
}

// DefaultThrottleLimits are the sign-in limits when Config.Throttle is nil
// (docs/RISK.md): a user
// who mistypes a few times barely notices, a script guessing one account
// slows to one try per 8s, and one address that keeps failing is refused.
var DefaultThrottleLimits = ThrottleLimits{
	AccountSlowAfter: 5,
	IPSlowAfter:      20,
	IPRefuseAfter:    100,
	BaseDelay:        250 * time.Millisecond,
	MaxDelay:         8 * time.Second,
	Window:           15 * time.Minute,
}

// AdminThrottleLimits are the limits of the dashboard's admin sign-in when
// Config.AdminThrottle is nil: an
// address is refused after 10 failures in 15 minutes; an admin account
// that failed 5 times is slowed like a user's, to one try per 8s per
// address at most.
var AdminThrottleLimits = ThrottleLimits{
	AccountSlowAfter: 5,
	IPRefuseAfter:    10,
	BaseDelay:        250 * time.Millisecond,
	MaxDelay:         8 * time.Second,
	Window:           15 * time.Minute,
}

// ThrottleDecision is what to do with one login attempt.
type ThrottleDecision struct {
	// Delay is how long to hold the attempt before answering it.
	Delay time.Duration
	// Refuse answers 429 at once, without checking the password.
	Refuse bool
	// RetryAfter is the Retry-After of a refusal.
	RetryAfter time.Duration
}

// Func returns the limits as a Config.Throttle policy.
func (l ThrottleLimits) Func() ThrottleFunc {
	return func(failedAccount, failedIP int64) (time.Duration, bool, time.Duration) {
		d := l.Decide(failedAccount, failedIP)
		return d.Delay, d.Refuse, d.RetryAfter
	}
}

// NoThrottle is a Config.Throttle that never slows nor refuses: the
// explicit opt-out (failures are still counted).
func NoThrottle(failedAccount, failedIP int64) (time.Duration, bool, time.Duration) {
	return 0, false, 0
}

// Decide decides how to treat a login attempt given the recent failed
// logins for its account and from its address. The delay grows
// exponentially from BaseDelay past each slow-after count (the larger of
// the two applies), capped at MaxDelay. Only the per-address count refuses.
func (l ThrottleLimits) Decide(failedAccount, failedIP int64) ThrottleDecision {
	if l.IPRefuseAfter > 0 && failedIP >= l.IPRefuseAfter {
		retry := l.Window
		if retry <= 0 {
			retry = max(l.MaxDelay, time.Minute)
		}
		// No delay on a refusal: holding the connection would only cost us.
		return ThrottleDecision{Refuse: true, RetryAfter: retry}
	}
	delay := max(
		backoff(failedAccount, l.AccountSlowAfter, l),
		backoff(failedIP, l.IPSlowAfter, l),
	)
	return ThrottleDecision{Delay: delay}
}

// backoff returns BaseDelay * 2^(failed-after), capped at MaxDelay, or 0
// below the count or when the rule is off.
func backoff(failed, after int64, l ThrottleLimits) time.Duration {
	if after <= 0 || failed < after || l.BaseDelay <= 0 {
		return 0
	}
	limit := l.MaxDelay
	if limit <= 0 {
		limit = time.Duration(1<<63 - 1)
	}
	d := min(l.BaseDelay, limit)
	for n := failed - after; n > 0 && d < limit; n-- {
		if d > limit/2 { // doubling would pass the cap (or overflow)
			return limit
		}
		d *= 2
	}
	return d
}
