package sessionmanager

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
)

// BulkLoader is a store that loads many generated users and sessions fast:
// COPY in one transaction on PostgreSQL, multi-row INSERTs on SQLite.
// The store's triggers keep its counters and search indexes exactly as for
// single writes, and the store refreshes its planner statistics at the end.
// It is for load and scale runs (sessionmanager generate, the scale
// harness), not for production data: it writes no refresh tokens and no
// audit events. The *User and *Session the sequences yield may be reused
// between yields.
//
// A load is all or nothing: when it fails, none of its rows stay. An error
// that is a *BulkLoadWarning means the opposite: every row is loaded and
// committed, only a step after the load (refreshing the statistics) failed.
type BulkLoader interface {
	BulkLoad(ctx context.Context, users iter.Seq[*User], sessions iter.Seq[*Session]) error
}

// BulkLoadWarning is the error of a bulk load whose rows are all loaded and
// committed, where a step after the load failed (VACUUM ANALYZE or ANALYZE:
// the planner works on older statistics until autovacuum or the next
// ANALYZE). The caller reports Err as a warning, not the load as failed.
type BulkLoadWarning struct{ Err error }

func (w *BulkLoadWarning) Error() string {
	return "the data is loaded, but: " + w.Err.Error()
}

func (w *BulkLoadWarning) Unwrap() error { return w.Err }

// Synthetic describes a generated data set: Sessions sessions of
// Sessions/10+1 users (user-0000000, user0@example.com, username user0),
// logins spread over the 30 days before Now; a tenth active (seen in the
// last 10 minutes), a tenth inactive, the rest ended within 8 hours of
// their login; 15 countries (one in 15 unknown), 6 device families,
// random public IPv4 addresses, a tenth on a VPN. The same Seed gives the
// same data.
type Synthetic struct {
	Sessions int
	Now      time.Time
	Seed     uint64
}

// SyntheticUsers is how many users a Synthetic set of n sessions has.
func SyntheticUsers(n int) int { return n/10 + 1 }

// syntheticPlaces are the generated sessions' countries, cities and ISPs.
var syntheticPlaces = [...]struct{ cc, city, isp string }{
	{"DE", "Berlin", "Deutsche Telekom AG"}, {"US", "Chicago", "Comcast Cable"}, {"FR", "Paris", "Orange S.A."},
	{"GB", "London", "British Telecommunications"}, {"BR", "Sao Paulo", "Claro S.A."}, {"IN", "Bengaluru", "Bharti Airtel"},
	{"JP", "Tokyo", "NTT Communications"}, {"NL", "Amsterdam", "KPN B.V."}, {"", "", ""},
	{"PL", "Warsaw", "Orange Polska"}, {"ES", "Madrid", "Telefonica de Espana"}, {"IT", "Milan", "Telecom Italia"},
	{"CA", "Toronto", "Rogers Communications"}, {"AU", "Sydney", "Telstra"}, {"SE", "Stockholm", "Telia Company"},
}

// syntheticDevices are the generated sessions' device families.
var syntheticDevices = [...]Device{
	{Type: "desktop", Browser: "Chrome", OS: "Windows"}, {Type: "desktop", Browser: "Firefox", OS: "Linux"},
	{Type: "mobile", Browser: "Safari", OS: "iOS"}, {Type: "mobile", Browser: "Chrome", OS: "Android"},
	{Type: "tablet", Browser: "Safari", OS: "iPadOS"}, {Type: "desktop", Browser: "Edge", OS: "Windows"},
}

// now is g.Now, or the current time when it is zero, in microseconds.
func (g Synthetic) now() time.Time {
	if g.Now.IsZero() {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return g.Now.UTC().Truncate(time.Microsecond)
}

// Users yields the users, one *User reused.
func (g Synthetic) Users() iter.Seq[*User] {
	at := g.now().Add(-60 * 24 * time.Hour)
	return func(yield func(*User) bool) {
		var u User
		for i := range SyntheticUsers(g.Sessions) {
			n := strconv.Itoa(i)
			u = User{ID: fmt.Sprintf("user-%07d", i), Email: "user" + n + "@example.com", Username: "user" + n,
				Confirmed: true, CreatedAt: at, UpdatedAt: at}
			if !yield(&u) {
				return
			}
		}
	}
}

// SessionSeq yields the sessions, one *Session reused.
func (g Synthetic) SessionSeq() iter.Seq[*Session] {
	now := g.now()
	return func(yield func(*Session) bool) {
		rng := rand.New(rand.NewPCG(g.Seed, 2))
		users := SyntheticUsers(g.Sessions)
		var s Session
		for i := range g.Sessions {
			created := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Microsecond)
			lastSeen := created.Add(time.Duration(rng.Int64N(int64(8 * time.Hour)))).Truncate(time.Microsecond)
			if lastSeen.After(now) {
				lastSeen = now
			}
			status, reason, ended := StatusEnded, EndLogout, lastSeen
			switch x := rng.IntN(10); {
			case x < 1:
				status, reason, ended = StatusActive, "", time.Time{}
				lastSeen = now.Add(-time.Duration(rng.Int64N(int64(10 * time.Minute)))).Truncate(time.Microsecond)
			case x < 2:
				status, reason, ended = StatusInactive, "", time.Time{}
			}
			p := syntheticPlaces[rng.IntN(len(syntheticPlaces))]
			loc := Location{CountryCode: p.cc, City: p.city, ISP: p.isp}
			if p.cc != "" {
				loc.CountryName, _ = CountryName(p.cc)
			}
			ip := netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
			s = Session{ID: fmt.Sprintf("ses-%08d", i), UserID: fmt.Sprintf("user-%07d", rng.IntN(users)),
				Status: status, EndReason: reason, AuthMethod: AuthPassword,
				CreatedAt: created, LastSeenAt: lastSeen, EndedAt: ended, ExpiresAt: created.Add(30 * 24 * time.Hour),
				IP: ip, UserAgent: "Mozilla/5.0", Device: syntheticDevices[rng.IntN(len(syntheticDevices))],
				Location: loc, Threat: Threat{VPN: rng.IntN(10) == 0}, Score: rng.IntN(101), Reasons: []RiskReason{}}
			s.AuthTime = created
			if !yield(&s) {
				return
			}
		}
	}
}

// Generate loads g into st. It refuses a store that already holds users
// or sessions: generated data never mixes with real data.
func Generate(ctx context.Context, st Store, g Synthetic) error {
	if g.Sessions <= 0 {
		return InvalidFields(map[string]string{"sessions": "must be a positive number"})
	}
	bl, ok := st.(BulkLoader)
	if !ok {
		return fmt.Errorf("this store cannot bulk-load generated data")
	}
	users, _, err := st.ListUsers(ctx, UserFilter{Limit: 1})
	if err != nil {
		return err
	}
	page, err := st.ListSessions(ctx, SessionFilter{Limit: 1})
	if err != nil {
		return err
	}
	if len(users) > 0 || len(page.Sessions) > 0 {
		return &Error{Code: ECONFLICT, Message: "the database already holds users or sessions; generate into an empty one"}
	}
	return bl.BulkLoad(ctx, g.Users(), g.SessionSeq())
}
