package web

import (
	"net/url"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestRelTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "just now"},
		{9 * time.Second, "just now"},
		{42 * time.Second, "42s ago"},
		{5 * time.Minute, "5m ago"},
		{3 * time.Hour, "3h ago"},
		{47 * time.Hour, "47h ago"},
		{72 * time.Hour, "3d ago"},
		{-2 * time.Hour, "in 2h"},
	}
	for _, tt := range tests {
		if got := relTimeAt(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("relTime(-%v) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := relTimeAt(time.Time{}, now); got != "never" {
		t.Errorf("zero time = %q", got)
	}
}

func TestFormatCount(t *testing.T) {
	tests := map[int64]string{0: "0", 999: "999", 1000: "1\u202f000", 1234567: "1\u202f234\u202f567", -4200: "-4\u202f200"}
	for n, want := range tests {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	tests := map[int64]int64{0: 4, 3: 4, 5: 8, 9: 12, 11: 12, 17: 20, 31: 32, 99: 100, 101: 120, 4100: 6000}
	for n, want := range tests {
		if got := niceCeil(n); got != want || got%4 != 0 {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestSessionQueryRoundTrip(t *testing.T) {
	in := url.Values{"status": {"ended,active,inactive"}, "country": {"de"}, "threat": {"vpn", "tor"}, "scoreBelow": {"50"}, "q": {"alice"}, "sort": {"score"}, "order": {"asc"}}
	q, f, bad := parseSessionQuery(in)
	if len(bad) != 0 {
		t.Fatalf("errors: %v", bad)
	}
	if f.Country != "DE" || !f.AnyThreat.VPN || !f.AnyThreat.Tor || *f.ScoreBelow != 50 || f.Desc || len(f.Status) != 3 {
		t.Errorf("filter: %+v", f)
	}
	q2, _, _ := parseSessionQuery(q.values())
	if q2.URL("/x", "") != q.URL("/x", "") {
		t.Errorf("round trip changed the query: %s vs %s", q2.URL("/x", ""), q.URL("/x", ""))
	}
	if got := q.SortURL("score"); got != "/admin/sessions?country=DE&q=alice&scoreBelow=50&sort=score&status=active%2Cinactive%2Cended&threat=vpn&threat=tor" {
		t.Errorf("SortURL toggles asc to desc: %s", got)
	}
	if _, _, bad := parseSessionQuery(url.Values{"ip": {"10.0.0.0/8"}}); len(bad) != 0 {
		t.Errorf("CIDR refused: %v", bad)
	}
	// The page's defaults: live sessions, last seen first.
	if q, f, _ := parseSessionQuery(url.Values{}); len(f.Status) != 2 || f.Sort != sm.SortLastSeen || !f.Desc || q.URL("/x", "") != "/x" {
		t.Errorf("defaults: %+v %s", f, q.URL("/x", ""))
	}
}

// TestLegacySessionQuery: the dashboard's old names become the API's.
func TestLegacySessionQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"below=50&dir=asc&status=live", "order=asc&scoreBelow=50&status=active%2Cinactive"},
		{"status=online", "status=active"},
		{"status=idle&country=DE", "country=DE&status=inactive"},
		{"status=all", "status=active%2Cinactive%2Cended"},
	}
	for _, tt := range tests {
		in, _ := url.ParseQuery(tt.in)
		out, ok := renameLegacySessionQuery(in)
		if !ok || out.Encode() != tt.want {
			t.Errorf("%s: %s (%v), want %s", tt.in, out.Encode(), ok, tt.want)
		}
	}
	for _, cur := range []string{"", "status=ended&scoreBelow=3&order=asc", "status=active,inactive"} {
		in, _ := url.ParseQuery(cur)
		if _, ok := renameLegacySessionQuery(in); ok {
			t.Errorf("%q is already in the API's names", cur)
		}
	}
}

func TestFieldError(t *testing.T) {
	errs := map[string]string{"blockedCountries[2]": "b", "blockedCountries[0]": "a", "actions.vpn": "c", "blocked": "not me"}
	if got := fieldError(errs, "blockedCountries"); got != "a; b" {
		t.Errorf("blockedCountries = %q", got)
	}
	if got := fieldError(errs, "actions.vpn"); got != "c" {
		t.Errorf("actions.vpn = %q", got)
	}
	if got := fieldError(errs, "scoreThreshold"); got != "" {
		t.Errorf("unrelated = %q", got)
	}
}

func TestNewRuleViewSplitsCondition(t *testing.T) {
	v := newRuleView(sm.AlertRule{ID: "r1", Name: "N", Enabled: true, Condition: "event.score < 5", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if v.ID != "r1" || v.Name != "N" || !v.Enabled || v.Condition != "event.score < 5" {
		t.Fatalf("view: %+v", v)
	}
	want := "{\n  \"name\": \"N\",\n  \"enabled\": true,\n  \"triggers\": [],\n  \"channels\": []\n}"
	if v.JSON != want {
		t.Errorf("JSON =\n%s\nwant\n%s", v.JSON, want)
	}
}

func TestLineChartLayout(t *testing.T) {
	days := make([]sm.Count, 14)
	for i := range days {
		days[i] = sm.Count{Key: time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02"), Count: int64(i)}
	}
	for _, lay := range []chartLayout{wideLayout, narrowLayout} {
		c := newLineChart(days, lay)
		if len(c.Dots) != 14 || c.Labels[len(c.Labels)-1].Text != "Jan 14" {
			t.Errorf("width %v: dots %d, last label %+v", lay.Width, len(c.Dots), c.Labels[len(c.Labels)-1])
		}
		for _, d := range c.Dots {
			if d.X < 0 || d.X > lay.Width || d.Y < 0 || d.Y > lineH {
				t.Errorf("width %v: dot outside the drawing: %+v", lay.Width, d)
			}
		}
		if c.Total != "91" {
			t.Errorf("total %s", c.Total)
		}
	}
	if !newLineChart(nil, wideLayout).Empty {
		t.Error("no days is not empty")
	}
}

func TestBarChartCutsLongLabels(t *testing.T) {
	c := newBarChart("x", []sm.Count{{Key: "A very long browser name indeed", Count: 3}, {Key: "", Count: 1}}, plainLabel, narrowLayout)
	if len([]rune(c.Bars[0].Label)) != narrowLayout.LabelMax || c.Bars[0].Full != "A very long browser name indeed" {
		t.Errorf("label %q", c.Bars[0].Label)
	}
	if c.Bars[0].W != narrowLayout.BarMax || c.Bars[1].Label != "Unknown" {
		t.Errorf("bars %+v", c.Bars)
	}
}

// The live table's "challenged" mark is a sign-in that passed a challenge,
// not any multi-factor session: a passwordless passkey sign-in and a session
// stepped up later are multi-factor without a challenge of the sign-in.
func TestChallengedMark(t *testing.T) {
	opened := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    sm.Session
		want bool
	}{
		{"password, then an email code", sm.Session{AuthMethod: sm.AuthPassword, CreatedAt: opened,
			AuthContext: sm.AuthContext{AuthTime: opened, AMR: []string{"pwd", "otp", "mfa"}, ACR: "2"}}, true},
		{"external, then TOTP", sm.Session{AuthMethod: sm.AuthExternal, CreatedAt: opened,
			AuthContext: sm.AuthContext{AuthTime: opened, AMR: []string{"otp", "mfa"}, ACR: "2"}}, true},
		{"password only", sm.Session{AuthMethod: sm.AuthPassword, CreatedAt: opened,
			AuthContext: sm.AuthContext{AuthTime: opened, AMR: []string{"pwd"}, ACR: "1"}}, false},
		{"passwordless passkey", sm.Session{AuthMethod: sm.AuthPasskey, CreatedAt: opened,
			AuthContext: sm.AuthContext{AuthTime: opened, AMR: []string{"hwk", "mfa"}, ACR: "2"}}, false},
		{"password, stepped up later", sm.Session{AuthMethod: sm.AuthPassword, CreatedAt: opened,
			AuthContext: sm.AuthContext{AuthTime: opened.Add(time.Hour), AMR: []string{"pwd", "otp", "mfa"}, ACR: "2"}}, false},
	} {
		if got := challenged(&tc.s); got != tc.want {
			t.Errorf("%s: challenged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSessionProtectionTexts: every session-protection signal has its own
// label, and every session action (the root package's one list) its row
// texts on the settings page.
func TestSessionProtectionTexts(t *testing.T) {
	for _, code := range sm.SessionSignalCodes {
		if _, ok := reasonLabels[code]; !ok {
			t.Errorf("signal %s has no label", code)
		}
	}
	for _, k := range sm.SessionActionKeys() {
		if tx := protectionTexts[k]; tx[0] == "" || tx[1] == "" {
			t.Errorf("session action %s has no row label or help", k)
		}
	}
	if len(protectionTexts) != len(sm.SessionActionKeys()) {
		t.Errorf("%d row texts for %d session actions", len(protectionTexts), len(sm.SessionActionKeys()))
	}
}
