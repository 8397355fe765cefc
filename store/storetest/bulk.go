package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var bulkTests = []namedTest{
	{"LoadsEveryField", testBulkLoad},
	{"SearchAndFiltersOnGeneratedData", testBulkSearch},
	{"PurgeInBatches", testBulkPurge},
	{"DefaultsAsCreateSession", testBulkDefaults},
}

// bulkSessions is the size of the generated set: more than two purge
// batches of sessionmanager.PurgeBatch ended sessions.
const bulkSessions = 4000

// generated loads a Synthetic set of n sessions (at t0) through
// sessionmanager.Generate and returns copies of its sessions, with the
// user's email and username as a read fills them.
func generated(t *testing.T, s Store, n int) []sessionmanager.Session {
	t.Helper()
	g := sessionmanager.Synthetic{Sessions: n, Now: t0, Seed: 7}
	noErr(t, sessionmanager.Generate(t.Context(), s, g), "generate")
	var all []sessionmanager.Session
	for ses := range g.SessionSeq() {
		all = append(all, *ses)
	}
	// The generator numbers users user-0000042 and names them user42.
	for i := range all {
		num := strings.TrimLeft(strings.TrimPrefix(all[i].UserID, "user-"), "0")
		if num == "" {
			num = "0"
		}
		all[i].UserEmail, all[i].Username = "user"+num+"@example.com", "user"+num
	}
	return all
}

func testBulkLoad(t *testing.T, s Store) {
	ctx := t.Context()
	all := generated(t, s, bulkSessions)
	equal(t, bulkSessions, len(allSessions(t, s, sessionmanager.SessionFilter{}, 500)), "sessions listed")
	for _, i := range []int{0, 1, 42, bulkSessions - 1} {
		requireSameSession(t, &all[i], getSession(t, s, all[i].ID))
	}
	u, err := s.UserByIdentifier(ctx, "User42@Example.com")
	noErr(t, err, "a generated user signs in by email")
	equal(t, "user-0000042", u.ID)
	// The counters the triggers keep agree with the rows.
	st, err := s.Stats(ctx, t0)
	noErr(t, err, "stats")
	live := 0
	for _, ses := range all {
		if ses.Status != sessionmanager.StatusEnded {
			live++
		}
	}
	byDevice := 0
	for _, c := range st.ByDevice {
		byDevice += int(c.Count)
	}
	equal(t, live, byDevice, "live sessions by device type in stats")
	equal(t, int64(sessionmanager.SyntheticUsers(bulkSessions)), st.TotalUsers, "users in stats")
	// The windowed counts too (PostgreSQL's minute and hour counters are
	// filled per COPY), at t0 and between minute and hour boundaries.
	for _, at := range []time.Time{t0, t0.Add(-7*time.Minute - 13*time.Second - 5*time.Microsecond)} {
		st, err := s.Stats(ctx, at)
		noErr(t, err, "stats at %v", at)
		var a15, a30, l24, l7 int64
		for _, ses := range all {
			if ses.Status != sessionmanager.StatusEnded && !ses.LastSeenAt.Before(at.Add(-15*time.Minute)) {
				a15++
			}
			if ses.Status != sessionmanager.StatusEnded && !ses.LastSeenAt.Before(at.Add(-30*time.Minute)) {
				a30++
			}
			if !ses.CreatedAt.Before(at.Add(-24 * time.Hour)) {
				l24++
			}
			if !ses.CreatedAt.Before(at.Add(-7 * 24 * time.Hour)) {
				l7++
			}
		}
		equal(t, a15, st.Active15m, "Active15m at %v", at)
		equal(t, a30, st.Active30m, "Active30m at %v", at)
		equal(t, l24, st.Logins24h, "Logins24h at %v", at)
		equal(t, l7, st.Logins7d, "Logins7d at %v", at)
		check(t, a30 > 0 && l24 > 0, "the generated data has sessions in the windows at %v", at)
	}
	// Generated data never mixes with data already there.
	requireCode(t, sessionmanager.Generate(ctx, s, sessionmanager.Synthetic{Sessions: 10, Now: t0}), sessionmanager.ECONFLICT, "generate into a store that holds data")
	requireCode(t, sessionmanager.Generate(ctx, s, sessionmanager.Synthetic{Sessions: 0}), sessionmanager.EINVALID, "generate no sessions")
}

func testBulkSearch(t *testing.T, s Store) {
	all := generated(t, s, bulkSessions)
	live := []sessionmanager.Status{sessionmanager.StatusActive, sessionmanager.StatusInactive}
	want := func(keep func(*sessionmanager.Session) bool) []string {
		var ids []string
		for i := range all {
			if keep(&all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	got := func(f sessionmanager.SessionFilter) []string {
		f.SearchCountries = sessionmanager.CountriesNamed(f.Search)
		ids := allSessions(t, s, f, 500)
		slices.Sort(ids)
		return ids
	}
	has := func(field, q string) bool { return strings.Contains(strings.ToLower(field), strings.ToLower(q)) }
	named := map[string][]string{}
	matches := func(x *sessionmanager.Session, q string) bool {
		if _, ok := named[q]; !ok {
			named[q] = sessionmanager.CountriesNamed(q)
		}
		return has(x.UserEmail, q) || has(x.Username, q) || has(x.IP.String(), q) || has(x.Device.Browser, q) ||
			has(x.Device.OS, q) || has(x.Location.City, q) || has(x.Location.ISP, q) ||
			slices.Contains(named[q], x.Location.CountryCode)
	}
	ip := all[17].IP.String()
	for _, q := range []string{"user42@example.com", "USER7", "Telstra", "germany", "tokyo", ip} {
		w := want(func(x *sessionmanager.Session) bool { return matches(x, q) })
		check(t, len(w) > 0, "the data has sessions matching %q", q)
		equal(t, w, got(sessionmanager.SessionFilter{Search: q}), "search %q", q)
	}
	// Filters and search together: live, in Germany, and a name.
	w := want(func(x *sessionmanager.Session) bool {
		return x.Status != sessionmanager.StatusEnded && x.Location.CountryCode == "DE" && matches(x, "user1")
	})
	check(t, len(w) > 0, "the data has live German sessions of user1*")
	equal(t, w, got(sessionmanager.SessionFilter{Status: live, Country: "DE", Search: "user1", Desc: true}), "live + DE + user1")
	equal(t, w, got(sessionmanager.SessionFilter{Status: live, Country: "de", Search: "user1", Sort: sessionmanager.SortLastSeen}), "live + de + user1 by last seen")
}

func testBulkPurge(t *testing.T, s Store) {
	ctx := t.Context()
	all := generated(t, s, bulkSessions)
	cutoff := t0.Add(-5 * 24 * time.Hour)
	due := 0
	for _, ses := range all {
		if ses.Status == sessionmanager.StatusEnded && ses.EndedAt.Before(cutoff) {
			due++
		}
	}
	check(t, due > 2*sessionmanager.PurgeBatch, "%d due: more than two batches", due)
	total := 0
	for batch := 0; ; batch++ {
		n, err := s.PurgeEnded(ctx, cutoff, sessionmanager.PurgeBatch)
		noErr(t, err, "purge batch %d", batch)
		check(t, n <= sessionmanager.PurgeBatch, "batch %d deleted %d", batch, n)
		total += n
		if n == 0 {
			break
		}
	}
	equal(t, due, total, "purged")
	left := map[string]bool{}
	for _, id := range allSessions(t, s, sessionmanager.SessionFilter{}, 500) {
		left[id] = true
	}
	for _, ses := range all {
		gone := ses.Status == sessionmanager.StatusEnded && ses.EndedAt.Before(cutoff)
		check(t, left[ses.ID] != gone, "%s (%s, ended %v): gone=%v", ses.ID, ses.Status, ses.EndedAt, !left[ses.ID])
	}
}

// testBulkDefaults: a bulk-loaded session gets the defaults CreateSession
// fills in (active, last seen at creation), not an empty status and a
// zero time.
func testBulkDefaults(t *testing.T, s Store) {
	u := &sessionmanager.User{ID: "u-bulk", Email: "bulk@example.com", Username: "bulk", CreatedAt: t0, UpdatedAt: t0}
	ses := &sessionmanager.Session{ID: "s-bulk", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	noErr(t, s.BulkLoad(t.Context(), slices.Values([]*sessionmanager.User{u}), slices.Values([]*sessionmanager.Session{ses})), "bulk load")
	got := getSession(t, s, ses.ID)
	equal(t, sessionmanager.StatusActive, got.Status, "status of a session loaded without one")
	check(t, got.LastSeenAt.Equal(t0), "last seen of a session loaded without one: %v, want its creation %v", got.LastSeenAt, t0)
}
