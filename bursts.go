package sessionmanager

import (
	"cmp"
	"slices"
	"time"
)

// LoginBurst is many failed sign-ins from one address: a brute-force or
// credential-stuffing run, as the security page shows it.
type LoginBurst struct {
	IP       string
	Failures int
	// Accounts is how many different accounts (user ids or typed
	// identifiers) the failures tried.
	Accounts    int
	First, Last time.Time
}

// BurstThreshold is how many failed sign-ins from one address make a burst.
const BurstThreshold = 5

// FailedLoginBursts groups the failed sign-ins among events by client
// address and returns the addresses with at least min failures, most
// failures first. Events without an address (erased) are left out.
func FailedLoginBursts(events []*Event, min int) []LoginBurst {
	type acc struct {
		LoginBurst
		accounts map[string]bool
	}
	by := map[string]*acc{}
	for _, e := range events {
		if e.Type != EventLoginFailed || e.IP == "" {
			continue
		}
		a := by[e.IP]
		if a == nil {
			a = &acc{LoginBurst: LoginBurst{IP: e.IP, First: e.At, Last: e.At}, accounts: map[string]bool{}}
			by[e.IP] = a
		}
		a.Failures++
		if e.At.Before(a.First) {
			a.First = e.At
		}
		if e.At.After(a.Last) {
			a.Last = e.At
		}
		account := e.UserID
		if account == "" {
			account = "?" + string(e.Personal)
		}
		a.accounts[account] = true
	}
	var out []LoginBurst
	for _, a := range by {
		if a.Failures >= min {
			a.Accounts = len(a.accounts)
			out = append(out, a.LoginBurst)
		}
	}
	slices.SortFunc(out, func(x, y LoginBurst) int {
		return cmp.Or(cmp.Compare(y.Failures, x.Failures), cmp.Compare(x.IP, y.IP))
	})
	return out
}
