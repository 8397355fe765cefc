package sessionmanager_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestParseSessionQuery: the one vocabulary of the admin session lists.
// Lists may be comma-separated or repeated (a form's checkboxes repeat).
func TestParseSessionQuery(t *testing.T) {
	q, _ := url.ParseQuery("status=active&status=inactive,active&threat=vpn&threat=tor,proxy&scoreBelow=0&order=ASC&sort=lastSeenAt&suspected=true")
	f, err := sm.ParseSessionQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Status, []sm.Status{sm.StatusActive, sm.StatusInactive}) || !f.AnyThreat.VPN || !f.AnyThreat.Tor || !f.AnyThreat.Proxy ||
		f.ScoreBelow == nil || *f.ScoreBelow != 0 || !f.Suspected || f.Desc || f.Sort != sm.SortLastSeen || f.Limit != 50 {
		t.Errorf("filter %+v", f)
	}
	for raw, field := range map[string]string{
		"scoreBelow=102": "scoreBelow", "status=live": "status", "order=up": "order", "threat=vpn&threat=ghost": "threat",
		"limit=501": "limit", "country=XX": "country", "suspected=maybe": "suspected", "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z": "to",
	} {
		q, _ := url.ParseQuery(raw)
		_, err := sm.ParseSessionQuery(q)
		var e *sm.Error
		if !errors.As(err, &e) || e.Code != sm.EINVALID || e.Fields[field] == "" {
			t.Errorf("%s: %v, want EINVALID naming %s", raw, err, field)
		}
	}
}

func TestParseUserQuery(t *testing.T) {
	f, err := sm.ParseUserQuery(url.Values{"q": {" ann "}, "blocked": {"true"}, "limit": {"10"}})
	if err != nil || f.Search != "ann" || f.Blocked == nil || !*f.Blocked || f.Limit != 10 {
		t.Fatalf("%+v %v", f, err)
	}
	_, err = sm.ParseUserQuery(url.Values{"blocked": {"yes"}})
	var e *sm.Error
	if !errors.As(err, &e) || e.Fields["blocked"] == "" {
		t.Errorf("blocked=yes: %v, want EINVALID naming blocked", err)
	}
}

// TestParseEventQuery: the audit log's filter; an IP is compared in its
// canonical form (an IPv4-mapped address is the IPv4 one), a bad one is a
// 400 naming ip.
func TestParseEventQuery(t *testing.T) {
	q, _ := url.ParseQuery("type=login.failed,login.blocked&actor=+ops@example.com+&ip=::ffff:203.0.113.9&from=2026-01-01T00:00:00Z&order=desc")
	f, err := sm.ParseEventQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Types, []string{"login.failed", "login.blocked"}) || f.ActorID != "ops@example.com" || f.IP != "203.0.113.9" || f.From.IsZero() || !f.Desc {
		t.Errorf("filter %+v", f)
	}
	if f, err := sm.ParseEventQuery(url.Values{"seq": {"42"}}); err != nil || f.Seq != 42 {
		t.Errorf("seq: %+v %v", f, err)
	}
	for raw, field := range map[string]string{"ip=203.0.113": "ip", "ip=10.0.0.0/8": "ip", "from=yesterday": "from", "seq=0": "seq", "seq=x": "seq"} {
		q, _ := url.ParseQuery(raw)
		_, err := sm.ParseEventQuery(q)
		var e *sm.Error
		if !errors.As(err, &e) || e.Code != sm.EINVALID || e.Fields[field] == "" {
			t.Errorf("%s: %v, want EINVALID naming %s", raw, err, field)
		}
	}
}

// TestEventActorName: who acted, as people read it.
func TestEventActorName(t *testing.T) {
	for _, c := range []struct {
		e    sm.Event
		want string
	}{
		{sm.Event{ActorType: sm.ActorAdmin, ActorID: "a1", Data: []byte(`{"action":"x","adminEmail":"ops@example.com"}`)}, "ops@example.com"},
		{sm.Event{ActorType: sm.ActorAdmin, ActorID: "token:ci", Data: []byte(`{"action":"x"}`)}, "API token ci"},
		{sm.Event{ActorType: sm.ActorUser, ActorID: "u1"}, "user"},
		{sm.Event{ActorType: sm.ActorSystem, Data: []byte(`not json`)}, "system"},
	} {
		if got := c.e.ActorName(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
}

// A search that names a country, in its name or a common one, widens to
// the sessions there; other text names none.
func TestParseSessionQuerySearchCountries(t *testing.T) {
	for q, want := range map[string][]string{"uk": {"GB"}, "Holland": {"NL"}, "chrome": nil} {
		f, err := sm.ParseSessionQuery(url.Values{"q": {q}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.SearchCountries, want) {
			t.Errorf("q=%s: SearchCountries %v, want %v", q, f.SearchCountries, want)
		}
	}
}

// A search that reads as the start of an address is matched as an IP
// prefix; a word made of hex letters, or digits with other characters,
// stays a substring search.
func TestSearchIsIPPrefix(t *testing.T) {
	for q, want := range map[string]bool{
		"203.0.113": true, "203.": true, "42": true, "1.2.3.4": true,
		"2001:db8:": true, "2001:DB8::1": true, "::ffff:1.2.3.4": true, "fe80:": true,
		"": false, "...": false, "db8": false, "cafe": false, "user42": false,
		"203.0.113/24": false, "10 0": false, "2001:db8:g": false, "telstra": false,
	} {
		if got := sm.SearchIsIPPrefix(q); got != want {
			t.Errorf("SearchIsIPPrefix(%q) = %v, want %v", q, got, want)
		}
	}
}
