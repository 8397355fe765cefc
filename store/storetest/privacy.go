package storetest

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var privacyTests = []namedTest{
	{"EraseUser", testEraseUser},
	{"EraseUserReachesEventsNamingIt", testEraseUserNamedEvents},
}

// testEraseUserNamedEvents: events that name the user only in their
// personal fields (a magic-link sign-up, a failed login by an identifier
// not yet taken) are erased too, matched case-insensitively and exactly.
func testEraseUserNamedEvents(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	personal := []string{
		`{"email":"alice@example.com"}`,      // magic-link sign-up: erased
		`{"identifier":"ALICE@Example.COM"}`, // failed login by email: erased
		`{"identifier":"Alice"}`,             // failed login by username: erased
		`{"identifier":" alice "}`,           // as typed, spaces kept: erased
		`{"email":"alice@example.com.evil"}`, // another address: kept
		`{"identifier":"alice2"}`,            // another name: kept
		`{"email":"bob@example.com"}`,        // another user: kept
		`{"note":"mail alice@example.com"}`,  // a mention, not the value: kept
		`{"location":{"city":"Berlin"}}`,     // kept
		`not json`,                           // kept, and no error
	}
	erased := map[int]bool{0: true, 1: true, 2: true, 3: true}
	// Each event gets an alert delivery carrying the same data.
	delivery := func(status string) []*sessionmanager.Delivery {
		return []*sessionmanager.Delivery{{RuleID: "r", Channel: "email", Target: json.RawMessage(`{"to":"alice@example.com"}`),
			Payload: json.RawMessage(`{"user":{"email":"alice@example.com"},"session":{"ip":"203.0.113.9"}}`), Status: status}}
	}
	for i, p := range personal {
		e := &sessionmanager.Event{At: t0.Add(time.Duration(i) * time.Minute), Type: sessionmanager.EventLoginFailed,
			ActorType: sessionmanager.ActorUser, IP: "203.0.113.9", UserAgent: "UA", Personal: json.RawMessage(p)}
		noErr(t, s.AppendEvent(ctx, e, delivery("")))
	}
	// Bob's own event naming alice (he typed her address) is his, not hers.
	noErr(t, s.AppendEvent(ctx, &sessionmanager.Event{At: t0.Add(time.Hour), Type: sessionmanager.EventLoginFailed,
		UserID: "u-2", ActorType: sessionmanager.ActorUser, IP: "203.0.113.10", Personal: json.RawMessage(`{"identifier":"alice@example.com"}`)}, delivery("")))
	// Alice's own events: one alert already delivered, one pending.
	sent := &sessionmanager.Event{At: t0.Add(time.Hour), Type: sessionmanager.EventLoginSucceeded, UserID: "u-1", ActorType: sessionmanager.ActorUser}
	sentDelivery := delivery("")
	noErr(t, s.AppendEvent(ctx, sent, sentDelivery))
	noErr(t, s.CompleteDelivery(ctx, sentDelivery[0].ID, t0.Add(time.Hour)))
	noErr(t, s.AppendEvent(ctx, &sessionmanager.Event{At: t0.Add(time.Hour), Type: sessionmanager.EventLoginSucceeded, UserID: "u-1", ActorType: sessionmanager.ActorUser}, delivery("")))
	erased[len(personal)+1], erased[len(personal)+2] = true, true
	before := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)

	noErr(t, s.EraseUser(ctx, "u-1", t0.Add(2*time.Hour)))

	ds, _, err := s.ListDeliveries(ctx, sessionmanager.DeliveryFilter{Limit: 500})
	noErr(t, err)
	equal(t, len(before), len(ds), "one delivery per event")
	for _, d := range ds {
		if erased[int(d.EventSeq-1)] {
			want := sessionmanager.DeliveryDead
			if d.ID == sentDelivery[0].ID {
				want = sessionmanager.DeliveryDelivered
			}
			check(t, string(d.Payload) == sessionmanager.ErasedPayload && d.Target == nil && d.Status == want,
				"delivery of erased event %d: %s %s %s", d.EventSeq, d.Payload, d.Target, d.Status)
			check(t, want != sessionmanager.DeliveryDead || d.LastError == sessionmanager.ErasedDeliveryError, "says why it is dead: %q", d.LastError)
		} else {
			check(t, strings.Contains(string(d.Payload), "alice@example.com") && d.Status == sessionmanager.DeliveryPending,
				"delivery of kept event %d untouched: %s %s", d.EventSeq, d.Payload, d.Status)
		}
	}

	after := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	verifyChain(t, after)
	for i, e := range after {
		b := before[i]
		check(t, bytes.Equal(b.Hash, e.Hash) && bytes.Equal(b.PersonalDigest, e.PersonalDigest), "event %d keeps its hash", e.Seq)
		if erased[i] {
			check(t, e.Erased && e.IP == "" && e.UserAgent == "" && e.Personal == nil, "event %d (%s) erased: %+v", e.Seq, b.Personal, e)
		} else {
			check(t, !e.Erased && e.IP == b.IP && bytes.Equal(e.Personal, b.Personal), "event %d (%s) untouched: %+v", e.Seq, b.Personal, e)
		}
	}
}

func testEraseUser(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	_, err := s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{})
	noErr(t, err)
	loc := func(x *sessionmanager.Session) {
		x.Location = sessionmanager.Location{CountryCode: "DE", City: "Berlin", Latitude: 52.5, Longitude: 13.4, HasCoordinates: true, ISP: "ISP"}
		x.DeviceID = "alice-phone"
	}
	newSession(t, s, "a1", "u-1", loc)
	newSession(t, s, "a2", "u-1", loc, func(x *sessionmanager.Session) { x.IP = netip.MustParseAddr("2001:db8::7") })
	bobSession := newSession(t, s, "b1", "u-2", loc)
	for i := range 12 {
		e := &sessionmanager.Event{At: t0.Add(time.Duration(i) * time.Minute), Type: sessionmanager.EventLoginSucceeded,
			ActorType: sessionmanager.ActorUser, UserID: []string{"u-1", "u-2", ""}[i%3], Country: "DE",
			Data: json.RawMessage(`{"score": 90}`), IP: "203.0.113.9", UserAgent: "UA",
			Personal: json.RawMessage(`{"email":"someone@example.com"}`)}
		noErr(t, s.AppendEvent(ctx, e, nil))
	}
	before := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)

	at := t0.Add(time.Hour)
	noErr(t, s.EraseUser(ctx, "u-1", at))

	u, err := s.UserByID(ctx, "u-1")
	noErr(t, err)
	check(t, u.Email == "erased-u-1@erased.invalid" && u.Username == "erased-u-1" && u.PasswordHash == "", "erased user: %+v", u)
	requireCode(t, second(s.UserByIdentifier(ctx, "alice@example.com")), sessionmanager.ENOTFOUND, "the old email finds nobody")
	requireCode(t, second(s.UserByIdentifier(ctx, "alice")), sessionmanager.ENOTFOUND, "the old username finds nobody")
	bob, err := s.UserByID(ctx, "u-2")
	noErr(t, err)
	equal(t, "bob@example.com", bob.Email, "other users are untouched")

	for _, id := range []string{"a1", "a2"} {
		got := getSession(t, s, id)
		check(t, !got.IP.IsValid() && got.UserAgent == "" && got.Location == (sessionmanager.Location{}) && got.DeviceID == "", "%s erased: %+v", id, got)
		equal(t, "erased-u-1@erased.invalid", got.UserEmail)
	}
	page, err := s.ListSessions(ctx, sessionmanager.SessionFilter{IPPrefix: netip.MustParsePrefix("2001:db8::7/128")})
	noErr(t, err)
	check(t, len(page.Sessions) == 0, "an erased IP no longer matches the IP filter")
	bobSession.UserEmail, bobSession.Username = "bob@example.com", "bob"
	requireSameSession(t, bobSession, getSession(t, s, "b1"))

	after := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	equal(t, len(before), len(after), "no event added or removed")
	verifyChain(t, after)
	for i, e := range after {
		b := before[i]
		check(t, bytes.Equal(b.PersonalDigest, e.PersonalDigest) && bytes.Equal(b.Hash, e.Hash) && bytes.Equal(b.Data, e.Data),
			"event %d keeps its digest, hash and data", e.Seq)
		if e.UserID == "u-1" {
			check(t, e.Erased && e.IP == "" && e.UserAgent == "" && e.Personal == nil, "event %d erased: %+v", e.Seq, e)
		} else {
			check(t, !e.Erased && e.IP == b.IP && e.UserAgent == b.UserAgent && bytes.Equal(e.Personal, b.Personal),
				"event %d of another user is untouched", e.Seq)
		}
	}
	// The chain goes on after an erasure.
	noErr(t, s.AppendEvent(ctx, &sessionmanager.Event{At: at, Type: sessionmanager.EventUserErased, ActorType: sessionmanager.ActorAdmin, UserID: "u-1"}, nil))
	verifyChain(t, listAllEvents(t, s, sessionmanager.EventFilter{}, 500))

	requireCode(t, s.EraseUser(ctx, "nope", at), sessionmanager.ENOTFOUND, "missing user")
}
