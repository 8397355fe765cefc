package storetest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// trailTests: AppendTrail keeps a bounded, time-ordered trail per live
// session and the latest suspected mark; SessionByID reads the trail,
// ListSessions the mark.
var trailTests = []namedTest{
	{"AppendAndRead", testTrailAppendAndRead},
	{"KeepsNewestMaxTrailInTimeOrder", testTrailTrim},
	{"SkipsEndedAndMissingSessions", testTrailSkips},
	{"SuspectedMovesForwardOnly", testTrailSuspectedForward},
	{"ConcurrentAppendsLoseNothing", testTrailConcurrent},
	{"EraseUserClearsTrail", testTrailErase},
}

// trailEntry is a trail entry at t0+sec seconds from a documentation address.
func trailEntry(sec int, signals ...string) sessionmanager.TrailEntry {
	return sessionmanager.TrailEntry{
		At: t0.Add(time.Duration(sec) * time.Second), IP: netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", sec%250+1)),
		CountryCode: "DE", City: "Berlin", ASN: 64500, ISP: "Example Net", Latitude: 52.52, Longitude: 13.405,
		Device: "Chrome/macOS", Signals: signals,
	}
}

// trailSeconds are the entries' offsets from t0 in seconds, in trail order.
func trailSeconds(trail []sessionmanager.TrailEntry) []int {
	secs := make([]int, len(trail))
	for i, e := range trail {
		secs[i] = int(e.At.Sub(t0) / time.Second)
	}
	return secs
}

// seconds is from, from+1, ..., to.
func seconds(from, to int) []int {
	s := []int{}
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func testTrailAppendAndRead(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	newSession(t, s, "s-2", "u-1")
	check(t, getSession(t, s, "s-1").Trail == nil, "a new session has no trail")

	first := trailEntry(60)
	first.At = first.At.Add(1500 * time.Nanosecond).In(time.FixedZone("CET", 3600)) // kept in UTC, to the microsecond
	v6 := trailEntry(120, "session_ip_change", "session_country_change")
	v6.IP, v6.CountryCode, v6.City = netip.MustParseAddr("2001:db8::7"), "FR", "Paris\x00" // NUL is dropped, not an error
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{
		{SessionID: "s-1", Entry: first},
		{SessionID: "s-1", Entry: v6, Suspected: "session_country_change"},
	}), "append")

	got := getSession(t, s, "s-1")
	wantFirst := first
	wantFirst.At = t0.Add(60*time.Second + time.Microsecond)
	wantV6 := v6
	wantV6.City = "Paris"
	equal(t, []sessionmanager.TrailEntry{wantFirst, wantV6}, got.Trail, "trail of s-1")
	equal(t, "session_country_change", got.Suspected, "suspected signal")
	equal(t, v6.At, got.SuspectedAt, "suspected at the entry's time")
	other := getSession(t, s, "s-2")
	check(t, other.Trail == nil && other.Suspected == "" && other.SuspectedAt.IsZero(), "s-2 untouched: %+v", other.Trail)

	page, err := s.ListSessions(ctx, sessionmanager.SessionFilter{Sort: sessionmanager.SortCreated})
	noErr(t, err, "list")
	for _, sess := range page.Sessions {
		check(t, sess.Trail == nil, "a list does not read trails (%s)", sess.ID)
		if sess.ID == "s-1" {
			equal(t, "session_country_change", sess.Suspected, "listed mark")
			equal(t, v6.At, sess.SuspectedAt, "listed mark time")
		}
	}
	equal(t, []string{"s-1"}, allSessions(t, s, sessionmanager.SessionFilter{Suspected: true}, 10), "suspected filter")
	n, err := s.CountSessions(ctx, sessionmanager.SessionFilter{Suspected: true}, 100)
	noErr(t, err, "count suspected")
	equal(t, 1, n, "suspected count")
	noErr(t, s.AppendTrail(ctx, nil), "an empty batch")
}

func testTrailTrim(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	// Three batches, out of order within and across them: 1..30 in all.
	batches := [][]int{{5, 1, 3, 2, 4, 10, 9}, {30, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, {6, 7, 8, 21, 22, 23, 24, 25, 26, 27, 28, 29}}
	for i, b := range batches {
		notes := make([]sessionmanager.TrailNote, len(b))
		for j, sec := range b {
			notes[j] = sessionmanager.TrailNote{SessionID: "s-1", Entry: trailEntry(sec)}
		}
		noErr(t, s.AppendTrail(ctx, notes), "batch %d", i)
	}
	got := getSession(t, s, "s-1").Trail
	equal(t, sessionmanager.MaxTrail, len(got), "trail length")
	equal(t, seconds(30-sessionmanager.MaxTrail+1, 30), trailSeconds(got), "the newest MaxTrail, oldest first")
	equal(t, trailEntry(30), got[len(got)-1], "entries keep their facts")

	// An entry older than the whole trail falls off at once.
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{{SessionID: "s-1", Entry: trailEntry(0)}}), "append old")
	equal(t, seconds(11, 30), trailSeconds(getSession(t, s, "s-1").Trail), "an old entry does not displace newer ones")

	// A batch longer than the bound, for one session, keeps its newest.
	notes := make([]sessionmanager.TrailNote, 0, 500)
	for sec := 1000; sec < 1500; sec++ {
		notes = append(notes, sessionmanager.TrailNote{SessionID: "s-1", Entry: trailEntry(sec)})
	}
	noErr(t, s.AppendTrail(ctx, notes), "a batch of 500")
	equal(t, seconds(1500-sessionmanager.MaxTrail, 1499), trailSeconds(getSession(t, s, "s-1").Trail), "after a batch of 500")
}

func testTrailSkips(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-live", "u-1")
	newSession(t, s, "s-idle", "u-1", func(x *sessionmanager.Session) { x.Status = sessionmanager.StatusInactive })
	newSession(t, s, "s-ended", "u-1")
	_, err := s.EndSession(ctx, "s-ended", sessionmanager.EndLogout, t0.Add(time.Second))
	noErr(t, err, "end")
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{
		{SessionID: "s-ended", Entry: trailEntry(10), Suspected: "session_ip_change"},
		{SessionID: "missing", Entry: trailEntry(10), Suspected: "session_ip_change"},
		{SessionID: "bad\x00id", Entry: trailEntry(10)},
		{SessionID: "", Entry: trailEntry(10)},
		{SessionID: "s-live", Entry: trailEntry(10)},
		{SessionID: "s-idle", Entry: trailEntry(11), Suspected: "session_device_change"},
	}), "a batch with ended and missing sessions is not an error")
	ended := getSession(t, s, "s-ended")
	check(t, ended.Trail == nil && ended.Suspected == "", "an ended session is not changed: %+v %q", ended.Trail, ended.Suspected)
	equal(t, sessionmanager.StatusEnded, ended.Status, "still ended")
	equal(t, []int{10}, trailSeconds(getSession(t, s, "s-live").Trail), "the live session's trail")
	idle := getSession(t, s, "s-idle")
	equal(t, []int{11}, trailSeconds(idle.Trail), "an inactive session keeps a trail")
	equal(t, "session_device_change", idle.Suspected, "and its mark")
	equal(t, sessionmanager.StatusInactive, idle.Status, "a trail note is not activity")
	_, err = s.SessionByID(ctx, "missing")
	requireCode(t, err, sessionmanager.ENOTFOUND, "no session appears for a missing id")
}

func testTrailSuspectedForward(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	// Within a batch the latest suspected note wins, whatever the order.
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{
		{SessionID: "s-1", Entry: trailEntry(20), Suspected: "session_impossible_travel"},
		{SessionID: "s-1", Entry: trailEntry(10), Suspected: "session_ip_change"},
		{SessionID: "s-1", Entry: trailEntry(30)},
	}), "batch 1")
	got := getSession(t, s, "s-1")
	equal(t, "session_impossible_travel", got.Suspected, "the latest mark of the batch")
	equal(t, t0.Add(20*time.Second), got.SuspectedAt, "its time")
	// An older mark arriving later, and a note without one, change nothing.
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{
		{SessionID: "s-1", Entry: trailEntry(15), Suspected: "refresh_anomaly"},
		{SessionID: "s-1", Entry: trailEntry(40)},
	}), "batch 2")
	got = getSession(t, s, "s-1")
	equal(t, "session_impossible_travel", got.Suspected, "an older mark does not replace a newer one")
	equal(t, []int{10, 15, 20, 30, 40}, trailSeconds(got.Trail), "the trail has every entry in time order")
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{{SessionID: "s-1", Entry: trailEntry(50), Suspected: "session_device_change"}}), "batch 3")
	got = getSession(t, s, "s-1")
	equal(t, "session_device_change", got.Suspected, "a newer mark replaces it")
	equal(t, t0.Add(50*time.Second), got.SuspectedAt, "at its time")
}

func testTrailConcurrent(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	newSession(t, s, "s-2", "u-1")
	// racers = MaxTrail: every entry of every racer must be kept.
	errs := race(func(i int) error {
		// Each batch also writes the other session, in the other order,
		// so batches overlap and lock in opposite note orders.
		return s.AppendTrail(ctx, []sessionmanager.TrailNote{
			{SessionID: "s-2", Entry: trailEntry(100 + i)},
			{SessionID: "s-1", Entry: trailEntry(i + 1), Suspected: fmt.Sprint("signal_", i+1)},
		})
	})
	for i, err := range errs {
		noErr(t, err, "append %d", i)
	}
	one, two := getSession(t, s, "s-1"), getSession(t, s, "s-2")
	equal(t, seconds(1, racers), trailSeconds(one.Trail), "s-1 lost no entry")
	equal(t, seconds(100, 100+racers-1), trailSeconds(two.Trail), "s-2 lost no entry")
	equal(t, fmt.Sprint("signal_", racers), one.Suspected, "the latest mark won, whichever batch committed last")
	// A second round past the bound: the newest MaxTrail stay.
	errs = race(func(i int) error {
		return s.AppendTrail(ctx, []sessionmanager.TrailNote{{SessionID: "s-1", Entry: trailEntry(1000 + i)}})
	})
	for i, err := range errs {
		noErr(t, err, "second round %d", i)
	}
	equal(t, seconds(1000+racers-sessionmanager.MaxTrail, 1000+racers-1), trailSeconds(getSession(t, s, "s-1").Trail), "after the second round")
}

func testTrailErase(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newSession(t, s, "s-1", "u-1")
	noErr(t, s.AppendTrail(ctx, []sessionmanager.TrailNote{{SessionID: "s-1", Entry: trailEntry(5)}}), "append")
	noErr(t, s.EraseUser(ctx, "u-1", t0.Add(time.Hour)), "erase")
	check(t, len(getSession(t, s, "s-1").Trail) == 0, "an erased user's sessions keep no addresses or places in their trail")
}
