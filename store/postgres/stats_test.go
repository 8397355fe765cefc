package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Stats counts presence, logins per window and per day, and groups live
// sessions, at the given now.
func TestStats(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	ann := mkUser(t, s, "ann")
	bob := mkUser(t, s, "bob")
	if _, err := s.UpdateUser(ctx, bob.ID, sm.UserUpdate{Blocked: boolPtr(true)}); err != nil {
		t.Fatal(err)
	}
	// a: active, seen 5m ago, created 1h ago (today).
	mkSession(t, s, "a", ann.ID, now.Add(-time.Hour), func(x *sm.Session) { x.LastSeenAt = now.Add(-5 * time.Minute) })
	// b: inactive, seen 20m ago, created 7h ago (yesterday, within 24h).
	mkSession(t, s, "b", ann.ID, now.Add(-7*time.Hour), func(x *sm.Session) {
		x.Status, x.LastSeenAt = sm.StatusInactive, now.Add(-20*time.Minute)
		x.Location.CountryCode, x.Device = "FR", sm.Device{Type: "mobile", Browser: "Safari", OS: "iOS"}
	})
	// c: no location, seen 2h ago, created 3 days ago.
	mkSession(t, s, "c", bob.ID, now.Add(-72*time.Hour), func(x *sm.Session) {
		x.LastSeenAt, x.Location = now.Add(-2*time.Hour), sm.Location{}
	})
	// d: ended, created 10 days ago: counts in logins per day, not in live groups.
	mkSession(t, s, "d", bob.ID, now.Add(-240*time.Hour), nil)
	if _, err := s.EndSession(ctx, "d", sm.EndLogout, now.Add(-239*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// e: 20 days ago: outside the 14 days and 7 days, inside the 30-day average.
	mkSession(t, s, "e", bob.ID, now.Add(-480*time.Hour), func(x *sm.Session) { x.Status = sm.StatusInactive })

	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := sm.Stats{OnlineNow: 2, Active15m: 1, Active30m: 2, TotalUsers: 2, BlockedUsers: 1,
		LoginsToday: 1, Logins24h: 2, Logins7d: 3}
	got := *st
	got.ByCountry, got.ByDevice, got.ByBrowser, got.ByOS, got.LoginsPerDay, got.AvgSessionSeconds, got.Challenges24h = nil, nil, nil, nil, nil, 0, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts:\n got %+v\nwant %+v", got, want)
	}
	// Durations: a 55m, b 6h40m, c 70h, d 1h, e 0.
	avg := float64(55*60+400*60+70*3600+3600+0) / 5
	if st.AvgSessionSeconds != avg {
		t.Fatalf("avg %v, want %v", st.AvgSessionSeconds, avg)
	}
	// a: DE, b: FR, c: "", e: DE.
	checkCounts(t, "country", st.ByCountry, []sm.Count{{Key: "DE", Count: 2}, {Key: "", Count: 1}, {Key: "FR", Count: 1}})
	checkCounts(t, "device", st.ByDevice, []sm.Count{{Key: "desktop", Count: 3}, {Key: "mobile", Count: 1}})
	checkCounts(t, "browser", st.ByBrowser, []sm.Count{{Key: "Firefox", Count: 3}, {Key: "Safari", Count: 1}})
	checkCounts(t, "os", st.ByOS, []sm.Count{{Key: "Linux", Count: 3}, {Key: "iOS", Count: 1}})
	if len(st.LoginsPerDay) != 14 || st.LoginsPerDay[0].Key != "2026-02-25" || st.LoginsPerDay[13].Key != "2026-03-10" {
		t.Fatalf("days: %+v", st.LoginsPerDay)
	}
	perDay := map[string]int64{}
	var total int64
	for _, c := range st.LoginsPerDay {
		perDay[c.Key] = c.Count
		total += c.Count
	}
	if perDay["2026-03-10"] != 1 || perDay["2026-03-09"] != 1 || perDay["2026-03-07"] != 1 || perDay["2026-02-28"] != 1 || total != 4 {
		t.Fatalf("logins per day: %+v", st.LoginsPerDay)
	}
}

func checkCounts(t *testing.T, what string, got, want []sm.Count) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("by %s: got %+v, want %+v", what, got, want)
	}
}

// EraseUser clears personal data of the user, its sessions and events,
// keeps the chain verifiable and leaves other users alone.
func TestEraseUser(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	ann, bob := mkUser(t, s, "ann"), mkUser(t, s, "bob")
	mkSession(t, s, "s-ann", ann.ID, t0, nil)
	mkSession(t, s, "s-bob", bob.ID, t0, nil)
	for _, uid := range []string{ann.ID, bob.ID} {
		e := &sm.Event{At: t0, Type: sm.EventLoginSucceeded, ActorType: sm.ActorUser, UserID: uid, Country: "DE",
			IP: "203.0.113.7", UserAgent: "UA", Personal: json.RawMessage(`{"email":"x"}`)}
		if err := s.AppendEvent(ctx, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EraseUser(ctx, ann.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByID(ctx, ann.ID)
	if err != nil || u.Email != "erased-u-ann@erased.invalid" || u.Username != "erased-u-ann" || u.PasswordHash != "" {
		t.Fatalf("erased user %+v, %v", u, err)
	}
	ses, _ := s.SessionByID(ctx, "s-ann")
	if ses.IP.IsValid() || ses.UserAgent != "" || ses.Location != (sm.Location{}) {
		t.Fatalf("erased session %+v", ses)
	}
	if p, _ := s.ListSessions(ctx, sm.SessionFilter{Search: "203.0.113"}); len(p.Sessions) != 1 || p.Sessions[0].ID != "s-bob" {
		t.Fatalf("search still finds the erased address: %v", sessionIDs(p.Sessions))
	}
	events, _, err := s.ListEvents(ctx, sm.EventFilter{})
	if err != nil || len(events) != 2 {
		t.Fatal(err)
	}
	var prev []byte
	for _, e := range events {
		if !bytes.Equal(e.Hash, e.ChainHash(prev)) {
			t.Fatalf("chain broken at %d after erase", e.Seq)
		}
		prev = e.Hash
		erased := e.UserID == ann.ID
		if erased != (e.Erased && e.IP == "" && e.UserAgent == "" && e.Personal == nil && len(e.PersonalDigest) == 32) {
			t.Fatalf("event %d of %s: %+v", e.Seq, e.UserID, e)
		}
	}
	if err := s.EraseUser(ctx, "nope", t0); code(err) != sm.ENOTFOUND {
		t.Fatalf("erase missing user: %v", err)
	}
}

// Emails and usernames are unique in any case; lookups ignore case.
func TestUsersCaseInsensitive(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	mkUser(t, s, "ann")
	for _, u := range []*sm.User{
		{ID: "x1", Email: "ANN@example.com", Username: "other", CreatedAt: t0},
		{ID: "x2", Email: "new@example.com", Username: "AnN", CreatedAt: t0},
		{ID: "u-ann", Email: "z@example.com", Username: "z", CreatedAt: t0},
	} {
		if err := s.CreateUser(ctx, u); code(err) != sm.ECONFLICT {
			t.Errorf("create %+v: %v, want conflict", u, err)
		}
	}
	for _, id := range []string{"ANN@EXAMPLE.COM", "aNn"} {
		if u, err := s.UserByIdentifier(ctx, id); err != nil || u.ID != "u-ann" {
			t.Errorf("by identifier %q: %v %v", id, u, err)
		}
	}
	bad := "a\x00"
	if _, err := s.UpdateUser(ctx, "u-ann", sm.UserUpdate{Email: &bad}); code(err) != sm.EINVALID {
		t.Errorf("NUL in email: %v, want invalid", err)
	}
	for _, f := range []sm.UserFilter{{Search: `%`}, {Search: `_`}, {Search: "'--"}, {Search: "\x00"}, {Search: "\xff"}} {
		if us, _, err := s.ListUsers(ctx, f); err != nil || len(us) != 0 {
			t.Errorf("list %+v: %d, %v", f, len(us), err)
		}
	}
}
