package sessionmanager_test

import (
	"errors"
	"net/url"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// checkFilterError: a bad admin filter is always one EINVALID error naming
// at least one field, never a panic or another code.
func checkFilterError(t *testing.T, raw string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *sm.Error
	if !errors.As(err, &e) || e.Code != sm.EINVALID || len(e.Fields) == 0 {
		t.Fatalf("query %q: %#v, want EINVALID naming fields", raw, err)
	}
}

// FuzzParseSessionQuery feeds any query string to the session filter
// parser: never a panic; an error is EINVALID with fields; an accepted
// filter respects the documented bounds.
func FuzzParseSessionQuery(f *testing.F) {
	for _, s := range []string{
		"", "status=active,ended&limit=10", "status=bogus&limit=9999&ip=1.2.3&scoreBelow=x&from=yesterday",
		"q=%27%3B+DROP+TABLE+sessions%3B+--&country=DE", "ip=10.0.0.0%2F8&threat=vpn,tor", "ip=::ffff:1.2.3.4",
		"from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "sort=score&order=asc&cursor=%00%ff", "limit=-1",
		"device=mobile&scoreBelow=101", "%zz=1&status=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil && q == nil {
			return
		}
		fl, err := sm.ParseSessionQuery(q)
		checkFilterError(t, raw, err)
		if err != nil {
			return
		}
		if fl.Limit < 1 || fl.Limit > 500 || len(fl.Search) > 200 || len(fl.Cursor) > 500 || len(fl.UserID) > 100 {
			t.Fatalf("query %q accepted out of bounds: %+v", raw, fl)
		}
		if fl.ScoreBelow != nil && (*fl.ScoreBelow < 0 || *fl.ScoreBelow > 101) {
			t.Fatalf("query %q: scoreBelow %d", raw, *fl.ScoreBelow)
		}
		if fl.Country != "" && !sm.ValidCountry(fl.Country) {
			t.Fatalf("query %q: country %q", raw, fl.Country)
		}
		for _, s := range fl.Status {
			if !s.Valid() {
				t.Fatalf("query %q: status %q", raw, s)
			}
		}
	})
}

// FuzzParseEventQuery does the same for the audit log filter.
func FuzzParseEventQuery(f *testing.F) {
	for _, s := range []string{
		"", "type=session.ended,login.failed&user=u1", "order=sideways&limit=0", "from=now",
		"actor=%27+OR+1%3D1+--&cursor=abc", "session=" + string(make([]byte, 120)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil && q == nil {
			return
		}
		fl, err := sm.ParseEventQuery(q)
		checkFilterError(t, raw, err)
		if err != nil {
			return
		}
		if fl.Limit < 1 || fl.Limit > 500 || len(fl.Cursor) > 500 || len(fl.SessionID) > 100 || len(fl.ActorID) > 200 {
			t.Fatalf("query %q accepted out of bounds: %+v", raw, fl)
		}
		for _, ty := range fl.Types {
			if len(ty) > 64 || ty == "" {
				t.Fatalf("query %q: type %q", raw, ty)
			}
		}
	})
}
