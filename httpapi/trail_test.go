package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestSessionTrailJSON: the admin API shows a session's trail and
// suspected mark and filters on the mark; the user's own session list
// does not tell a session's holder that it was noticed.
func TestSessionTrailJSON(t *testing.T) {
	ctx := context.Background()
	m, st, sec := newTestManager(t, nil)
	register := func(name string) *sm.LoginResult {
		res, err := m.Register(ctx, sm.RegisterInput{Username: name, Email: name + "@example.com", Password: "a long enough password"},
			sm.ClientInfo{UserAgent: "test", IP: netip.MustParseAddr("192.0.2.1")})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	flagged, plain := register("flagged"), register("plain")
	sid := flagged.Session.ID
	at := time.Now().UTC().Truncate(time.Second)
	err := st.AppendTrail(ctx, []sm.TrailNote{
		{SessionID: sid, Entry: sm.TrailEntry{At: at, IP: netip.MustParseAddr("198.51.100.7"), CountryCode: "SE", City: "Linköping", Device: "Chrome/Windows"}},
		{SessionID: sid, Entry: sm.TrailEntry{At: at.Add(time.Minute), IP: netip.MustParseAddr("203.0.113.50"), CountryCode: "DE", ASN: 24940, ISP: "Hetzner",
			Device: "Firefox/Linux", Signals: []string{"session_country_change", "session_device_change"}}, Suspected: "session_device_change"},
	})
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := sm.NewAdminToken(ctx, st, sec, "trail", sm.ScopeRead, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fuzzFixture{h: NewServer(Deps{Manager: m, Core: m.AdminCore(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})}

	code, body := fx.do("GET", "/api/admin/sessions/"+sid, admin, "", nil, nil)
	var one struct {
		Data sm.Session `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &one); code != http.StatusOK || err != nil {
		t.Fatalf("GET session: %d %v %.300s", code, err, body)
	}
	if got := one.Data; len(got.Trail) != 2 || got.Trail[1].ISP != "Hetzner" || len(got.Trail[1].Signals) != 2 ||
		got.Suspected != "session_device_change" || !got.SuspectedAt.Equal(at.Add(time.Minute)) {
		t.Errorf("admin session JSON: trail %+v, suspected %q at %v", got.Trail, got.Suspected, got.SuspectedAt)
	}

	code, body = fx.do("GET", "/api/admin/sessions?suspected=true", admin, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, sid) || strings.Contains(body, plain.Session.ID) {
		t.Errorf("suspected=true: %d, want only %s: %.500s", code, sid, body)
	}
	if code, body = fx.do("GET", "/api/admin/sessions?suspected=maybe", admin, "", nil, nil); code != http.StatusBadRequest || !strings.Contains(body, `"suspected"`) {
		t.Errorf("suspected=maybe: %d %.300s, want 400 naming suspected", code, body)
	}

	code, body = fx.do("GET", "/api/sessions/me", flagged.AccessToken, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, sid) {
		t.Fatalf("my sessions: %d %.300s", code, body)
	}
	if strings.Contains(body, "suspected") || strings.Contains(body, "session_device_change") {
		t.Errorf("the user's own list shows the suspected mark: %.500s", body)
	}
}
