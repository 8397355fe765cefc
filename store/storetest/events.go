package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var eventTests = []namedTest{
	{"AppendChain", testEventChain},
	{"ListFilters", testEventFilters},
	{"DeliveriesAppendedWithEvent", testEventDeliveries},
	{"AppendOnly", testEventAppendOnly},
}

// eventFixture is event i of the 50-event log: users, types and sessions
// vary, and the JSON is deliberately not canonical (spaces, key order) so
// that any re-encoding by the store breaks the chain.
func eventFixture(i int) *sessionmanager.Event {
	types := []string{sessionmanager.EventLoginSucceeded, sessionmanager.EventLoginFailed, sessionmanager.EventSessionEnded, sessionmanager.EventAdminAction}
	e := &sessionmanager.Event{
		At:        t0.Add(time.Duration(i)*time.Minute + time.Duration(i)*time.Microsecond),
		Type:      types[i%len(types)],
		ActorType: sessionmanager.ActorUser,
		ActorID:   fmt.Sprintf("actor-%d", i%2),
		UserID:    fmt.Sprintf("u-%d", i%3),
		SessionID: fmt.Sprintf("s-%d", i%5),
		Country:   []string{"DE", "US", ""}[i%3],
		IP:        fmt.Sprintf("203.0.113.%d", i),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) 'q' \"dq\"",
	}
	if i%2 == 0 {
		e.Data = json.RawMessage(fmt.Sprintf(`{"z": %d,   "a":[1, 2 ,3],"s":"\u00e9"}`, i))
	}
	if i%3 == 0 {
		e.Personal = json.RawMessage(fmt.Sprintf(`{ "email" : "user%d@example.com" }`, i))
	}
	if i%7 == 0 {
		e.ActorType, e.ActorID, e.IP, e.UserAgent = sessionmanager.ActorSystem, "", "", ""
	}
	return e
}

// listAllEvents pages through ListEvents and returns every event.
func listAllEvents(t *testing.T, s Store, f sessionmanager.EventFilter, pageSize int) []*sessionmanager.Event {
	t.Helper()
	f.Limit = pageSize
	var out []*sessionmanager.Event
	for range 1000 {
		evs, next, err := s.ListEvents(t.Context(), f)
		noErr(t, err, "list events %+v", f)
		check(t, len(evs) <= pageSize, "page larger than the limit")
		out = append(out, evs...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
	t.Fatal("ListEvents never ended")
	return nil
}

// verifyChain recomputes every link of the log from the stored fields.
func verifyChain(t *testing.T, evs []*sessionmanager.Event) {
	t.Helper()
	var prev []byte
	for i, e := range evs {
		equal(t, int64(i+1), e.Seq, "seq of event %d", i)
		check(t, bytes.Equal(prev, e.PrevHash), "event %d: PrevHash is not the previous Hash", e.Seq)
		check(t, bytes.Equal(e.ChainHash(prev), e.Hash), "event %d: the stored Hash does not verify", e.Seq)
		if !e.Erased {
			check(t, bytes.Equal(e.PersonalDigestOf(), e.PersonalDigest), "event %d: the personal digest does not verify", e.Seq)
		}
		prev = e.Hash
	}
}

func testEventChain(t *testing.T, s Store) {
	ctx := t.Context()
	const n = 50
	var appended []*sessionmanager.Event
	for i := range n {
		e := eventFixture(i)
		noErr(t, s.AppendEvent(ctx, e, nil), "append %d", i)
		equal(t, int64(i+1), e.Seq, "AppendEvent sets Seq")
		check(t, len(e.Hash) == 32, "AppendEvent seals the event")
		appended = append(appended, e)
	}
	got := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	equal(t, n, len(got), "events listed")
	verifyChain(t, got)
	for i, e := range got {
		want := eventFixture(i)
		check(t, bytes.Equal(want.Data, e.Data), "event %d data is byte-exact: %s", e.Seq, e.Data)
		check(t, bytes.Equal(want.Personal, e.Personal), "event %d personal is byte-exact: %s", e.Seq, e.Personal)
		check(t, e.At.Equal(appended[i].At) && e.At.Location() == time.UTC, "event %d time: %v", e.Seq, e.At)
		check(t, e.Type == want.Type && e.ActorType == want.ActorType && e.ActorID == want.ActorID &&
			e.UserID == want.UserID && e.SessionID == want.SessionID && e.Country == want.Country &&
			e.IP == want.IP && e.UserAgent == want.UserAgent && !e.Erased, "event %d fields: %+v", e.Seq, e)
		check(t, bytes.Equal(appended[i].Hash, e.Hash), "event %d: listed hash is the appended hash", e.Seq)
	}
	// Pages of 7 give the same chain.
	paged := listAllEvents(t, s, sessionmanager.EventFilter{}, 7)
	verifyChain(t, paged)
}

func testEventFilters(t *testing.T, s Store) {
	ctx := t.Context()
	for i := range 30 {
		noErr(t, s.AppendEvent(ctx, eventFixture(i), nil))
	}
	seqs := func(evs []*sessionmanager.Event) []int64 {
		out := []int64{}
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	want := func(keep func(i int, e *sessionmanager.Event) bool) []int64 {
		out := []int64{}
		for i := range 30 {
			if keep(i, eventFixture(i)) {
				out = append(out, int64(i+1))
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    sessionmanager.EventFilter
		keep func(i int, e *sessionmanager.Event) bool
	}{
		{"types", sessionmanager.EventFilter{Types: []string{sessionmanager.EventLoginFailed, sessionmanager.EventAdminAction}},
			func(i int, e *sessionmanager.Event) bool { return i%4 == 1 || i%4 == 3 }},
		{"user", sessionmanager.EventFilter{UserID: "u-1"}, func(i int, _ *sessionmanager.Event) bool { return i%3 == 1 }},
		{"session", sessionmanager.EventFilter{SessionID: "s-2"}, func(i int, _ *sessionmanager.Event) bool { return i%5 == 2 }},
		{"actor", sessionmanager.EventFilter{ActorID: "actor-1"}, func(i int, e *sessionmanager.Event) bool { return e.ActorID == "actor-1" }},
		{"ip", sessionmanager.EventFilter{IP: "203.0.113.8"}, func(i int, _ *sessionmanager.Event) bool { return i == 8 }},
		{"seq", sessionmanager.EventFilter{Seq: 12}, func(i int, _ *sessionmanager.Event) bool { return i+1 == 12 }},
		{"ip and type", sessionmanager.EventFilter{IP: "203.0.113.8", Types: []string{sessionmanager.EventLoginFailed}}, func(int, *sessionmanager.Event) bool { return false }},
		{"from inclusive, to exclusive", sessionmanager.EventFilter{From: eventFixture(10).At, To: eventFixture(20).At},
			func(i int, _ *sessionmanager.Event) bool { return i >= 10 && i < 20 }},
		{"after seq", sessionmanager.EventFilter{AfterSeq: 25}, func(i int, _ *sessionmanager.Event) bool { return i+1 > 25 }},
		{"user and type", sessionmanager.EventFilter{UserID: "u-0", Types: []string{sessionmanager.EventLoginSucceeded}},
			func(i int, _ *sessionmanager.Event) bool { return i%3 == 0 && i%4 == 0 }},
	} {
		equal(t, want(c.keep), seqs(listAllEvents(t, s, c.f, 4)), c.name)
	}
	desc := seqs(listAllEvents(t, s, sessionmanager.EventFilter{Desc: true}, 4))
	check(t, len(desc) == 30 && desc[0] == 30 && desc[29] == 1, "desc lists newest first over pages: %v", desc)
	for i := 1; i < len(desc); i++ {
		check(t, desc[i] == desc[i-1]-1, "desc order: %v", desc)
	}
	descUser := seqs(listAllEvents(t, s, sessionmanager.EventFilter{Desc: true, UserID: "u-2"}, 3))
	equal(t, []int64{30, 27, 24, 21, 18, 15, 12, 9, 6, 3}, descUser, "desc with a filter")
	_, _, err := s.ListEvents(ctx, sessionmanager.EventFilter{Cursor: "@@"})
	requireCode(t, err, sessionmanager.EINVALID, "bad cursor")
}

func testEventDeliveries(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.AppendEvent(ctx, eventFixture(0), nil))
	e := eventFixture(1)
	due := t0.Add(time.Hour)
	ds := []*sessionmanager.Delivery{
		{RuleID: "rule-1", Channel: "email", Target: json.RawMessage(`{"to": "ops@example.com"}`), Payload: json.RawMessage(`{"title":"x"}`), IdempotencyKey: "k1"},
		{RuleID: "rule-1", Channel: "webhook", Payload: json.RawMessage(`{}`), IdempotencyKey: "k2", NextAttemptAt: due, CreatedAt: t0.Add(time.Second)},
	}
	noErr(t, s.AppendEvent(ctx, e, ds))
	equal(t, int64(2), e.Seq)
	check(t, ds[0].ID > 0 && ds[1].ID > 0 && ds[0].ID != ds[1].ID, "ids assigned: %d %d", ds[0].ID, ds[1].ID)
	listed, _, err := s.ListDeliveries(ctx, sessionmanager.DeliveryFilter{})
	noErr(t, err)
	equal(t, 2, len(listed))
	byID := map[int64]*sessionmanager.Delivery{}
	for _, d := range listed {
		byID[d.ID] = d
	}
	first := byID[ds[0].ID]
	check(t, first != nil, "first delivery listed")
	equal(t, sessionmanager.Delivery{ID: ds[0].ID, EventSeq: 2, RuleID: "rule-1", Channel: "email",
		Target: json.RawMessage(`{"to": "ops@example.com"}`), Payload: json.RawMessage(`{"title":"x"}`), IdempotencyKey: "k1",
		Status: sessionmanager.DeliveryPending, NextAttemptAt: e.At, CreatedAt: e.At}, *first,
		"a delivery without times is created at the event's time and due at once")
	later := byID[ds[1].ID]
	check(t, later != nil && later.NextAttemptAt.Equal(due) && later.CreatedAt.Equal(t0.Add(time.Second)) && later.EventSeq == 2,
		"given times are kept: %+v", later)
	depth, err := s.OutboxDepth(ctx)
	noErr(t, err)
	equal(t, int64(2), depth)
}

func testEventAppendOnly(t *testing.T, s Store) {
	// The store's API has no way to change or remove an event: the only
	// event methods are AppendEvent and ListEvents (EraseUser blanks
	// personal fields, which the chain does not cover directly).
	st := reflect.TypeFor[Store]()
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		if strings.Contains(name, "Event") {
			check(t, name == "AppendEvent" || name == "ListEvents", "Store has an event method %s", name)
		}
	}
	ctx := t.Context()
	for i := range 5 {
		noErr(t, s.AppendEvent(ctx, eventFixture(i), nil))
	}
	before := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	for i := 5; i < 10; i++ {
		noErr(t, s.AppendEvent(ctx, eventFixture(i), nil))
	}
	after := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	equal(t, 10, len(after))
	equal(t, before, after[:5], "appending leaves earlier events as they were")
	verifyChain(t, after)
}
