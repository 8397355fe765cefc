package web

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	resp, _ := c.get("/admin/sessions")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login?next=") {
		t.Fatalf("unauthenticated page: %d %s, want redirect to sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {"wrong"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Invalid email, password or authentication code") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp, _ = c.do(http.MethodPost, "/admin/login", url.Values{"email": {"nobody@example.com"}, "password": {adminPassword}}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown admin: %d", resp.StatusCode)
	}
	resp, _ = c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"/admin/analytics"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/analytics" {
		t.Fatalf("sign in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/admin" {
		t.Fatalf("admin cookie attributes: %+v", cookie)
	}
	if cookie.Secure {
		t.Errorf("cookie is Secure on plain HTTP from loopback; the browser would drop it")
	}
	if strings.Contains(cookie.Value, e.admin.ID) {
		t.Errorf("cookie shows the admin id in clear")
	}
	resp, body = c.get("/admin/analytics")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, adminEmail) {
		t.Fatalf("after sign-in: %d", resp.StatusCode)
	}
	// Sign out ends the cookie.
	resp, _ = c.post("/admin/logout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out the dashboard answered %d", resp.StatusCode)
	}
	// The admin events were recorded.
	evs, _, err := e.store.ListEvents(context.Background(), sm.EventFilter{Types: []string{sm.EventAdminAction}, ActorID: e.admin.ID})
	if err != nil || len(evs) < 2 {
		t.Fatalf("admin sign-in/out events: %d, %v", len(evs), err)
	}
}

// TestSignInRedirectStaysInDashboard is the next= attack table: every
// value that a browser could resolve outside /admin/ falls back to /admin/
// (issue 20 item 15: /admin/../..//evil.example went to /evil.example).
func TestSignInRedirectStaysInDashboard(t *testing.T) {
	attacks := []string{
		"/admin/../..//evil.example", // the string
		"/admin/../../evil.example",
		"/admin/..//evil.example",
		"/admin/./../evil",
		"/admin/../x",
		"/admin/%2e%2e/%2e%2e//evil.example",
		"/admin/%2E%2E/evil",
		"/admin/..%2f..%2fevil.example",
		"/admin/%2F%2Fevil.example",
		"/admin/%5c%5cevil.example",
		"/admin/%252e%252e/evil",
		"/admin/\\evil.example",
		"/\\evil.example",
		"\\evil.example",
		"/admin/\\..\\..\\evil.example",
		"//evil.example/",
		"//evil.example/admin/",
		"///evil.example",
		"/admin//evil.example",
		"https://evil.example/admin/",
		"javascript:alert(1)",
		"http:/admin/",
		"/admin/\r\nLocation: https://evil.example",
		"/admin/\tx",
		"/admin/%00",
		"admin/",
		"evil.example",
		"/other",
		"/admin",
		"/admin/login",
		"/admin/login?next=//evil.example",
		"/admin/events",
		"",
	}
	for _, next := range attacks {
		if got := safeNext(next); got != "/admin/" {
			t.Errorf("safeNext(%q) = %q, want /admin/", next, got)
		}
	}
	kept := map[string]string{
		"/admin/":                         "/admin/",
		"/admin/sessions?status=ended":    "/admin/sessions?status=ended",
		"/admin/users/abc":                "/admin/users/abc",
		"/admin/sessions/./x":             "/admin/sessions/x",
		"/admin/settings/../sessions":     "/admin/sessions",
		"/admin/sessions?q=a%2Fb&next=//": "/admin/sessions?q=a%2Fb&next=//",
	}
	for next, want := range kept {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// TestSignInNextAttackThroughServer signs in with the next= and
// checks where the server sends the browser.
func TestSignInNextAttackThroughServer(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	resp, body := c.get("/admin/login?next=" + url.QueryEscape("/admin/../..//evil.example"))
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "evil.example") {
		t.Fatalf("login page kept the attack's next: %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"/admin/../..//evil.example"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/admin/" {
		t.Fatalf("sign-in redirected to %q (%d), want /admin/", loc, resp.StatusCode)
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	res := e.seed()
	c := e.client()
	c.signIn()
	sid := res["alice"].Session.ID
	path := "/admin/sessions/" + sid + "/terminate"
	tests := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {"not-the-token"}}, nil},
		{"wrong header", nil, map[string]string{"X-CSRF-Token": "nope"}},
		{"cross-site with token", url.Values{"csrf": {c.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"foreign origin with token", url.Values{"csrf": {c.csrf}}, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := tt.form
			if form == nil {
				form = url.Values{}
			}
			resp, _ := c.do(http.MethodPost, path, form, tt.hdr)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
			s, err := e.store.SessionByID(context.Background(), sid)
			if err != nil || s.Status == sm.StatusEnded {
				t.Fatalf("session ended by a refused request: %v %v", s.Status, err)
			}
		})
	}
	// The header form of the token (htmx, fetch) is accepted.
	resp, _ := c.do(http.MethodPost, path, url.Values{}, map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with X-CSRF-Token: %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/admin/login", "/admin/static/app.css", "/admin/nope"} {
		resp, _ := c.get(path)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows unsafe-inline", path)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: missing nosniff or Referrer-Policy", path)
		}
	}
}

// No page may carry inline script or style: the CSP would block it.
func TestPagesRenderWithRealData(t *testing.T) {
	e := newEnv(t)
	res := e.seed()
	alice := res["alice"]
	c := e.client()
	c.signIn()
	pages := map[string][]string{
		"/admin/":                             {"Online now", "Berlin"},
		"/admin/sessions":                     {"alice@example.com", "bob@example.com", "Chrome", "Deutsche Telekom", "VPN", "Datacenter"},
		"/admin/sessions/" + alice.Session.ID: {"alice@example.com", alice.Session.ID, uaChromeMac, "Berlin", "Signed in"},
		"/admin/users":                        {"alice@example.com", "carol@example.com"},
		"/admin/users/" + alice.User.ID:       {"alice@example.com", "Terminate all sessions", "DE"},
		"/admin/security":                     {"Security events", "Brute-force bursts"},
		"/admin/audit":                        {"Audit log", "Verify chain", "alice@example.com"},
		"/admin/settings":                     {"Geo-fencing", "Germany", "Policies", "Encryption key generator", "Free"},
		"/admin/analytics":                    {"Logins per day", "Germany", "Chrome"},
	}
	for path, wants := range pages {
		t.Run(path, func(t *testing.T) {
			resp, body := c.get(path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %.500s", resp.StatusCode, body)
			}
			for _, w := range wants {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, bad := range []string{"<script>", " style=", " onclick=", " onsubmit="} {
				if strings.Contains(body, bad) {
					t.Errorf("page has inline %q, which the CSP blocks", bad)
				}
			}
		})
	}
	if resp, _ := c.get("/admin/sessions/doesnotexist"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: %d, want 404", resp.StatusCode)
	}
	if resp, _ := c.get("/admin/users/doesnotexist"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: %d, want 404", resp.StatusCode)
	}
}

func TestSessionFilters(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.client()
	c.signIn()
	tests := []struct {
		query    string
		status   int
		has, not []string
	}{
		{"country=DE", 200, []string{"alice@example.com"}, []string{"bob@example.com", "carol@example.com"}},
		{"threat=vpn", 200, []string{"carol@example.com"}, []string{"alice@example.com"}},
		{"device=mobile", 200, []string{"bob@example.com"}, []string{"alice@example.com"}},
		{"q=comcast", 200, nil, nil},
		{"q=bob", 200, []string{"bob@example.com"}, []string{"alice@example.com"}},
		{"status=ended", 200, []string{"No session matches"}, []string{"alice@example.com"}},
		{"sort=score&order=asc", 200, []string{"alice@example.com"}, nil},
		{"status=active,inactive,ended&threat=vpn,tor", 200, []string{"carol@example.com"}, []string{"alice@example.com"}},
		{"scoreBelow=0", 200, []string{"No session matches"}, []string{"alice@example.com"}},
		{"country=XX", 400, []string{"must be an ISO 3166-1 alpha-2 country code"}, nil},
		{"status=zombie", 400, []string{"must be active, inactive or ended"}, nil},
		{"scoreBelow=abc", 400, []string{"must be a whole number from 0 to 101"}, nil},
		{"threat=aliens", 400, []string{"must be vpn, proxy, tor, datacenter or threat"}, nil},
		{"sort=email", 400, []string{"must be created_at, last_seen or score"}, nil},
		{"order=sideways", 400, []string{"must be asc or desc"}, nil},
		{"ip=not-an-ip", 400, []string{"must be an IP address or a CIDR prefix"}, nil},
		{"cursor=garbage", 400, []string{"no longer valid"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := c.get("/admin/sessions?" + tt.query)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			table := body[strings.Index(body, `id="sessions-table"`):]
			for _, w := range tt.has {
				if !strings.Contains(table, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(table, w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
}

// TestOldDashboardLinksRedirect: a shared link in the dashboard's old query
// names (below=, dir=, status=live, blocked=yes) is redirected once to the
// same list in the API's names, which the page then answers.
func TestOldDashboardLinksRedirect(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.client()
	c.signIn()
	for old, want := range map[string]string{
		"/admin/sessions?below=101&dir=asc&status=live": "/admin/sessions?order=asc&scoreBelow=101&status=active%2Cinactive",
		"/admin/sessions/table?status=all&country=DE":   "/admin/sessions/table?country=DE&status=active%2Cinactive%2Cended",
		"/admin/users?blocked=no&q=alice":               "/admin/users?blocked=false&q=alice",
	} {
		resp, _ := c.get(old)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("%s: %d %q, want 301 to %s", old, resp.StatusCode, resp.Header.Get("Location"), want)
			continue
		}
		if resp, body := c.get(want); resp.StatusCode != http.StatusOK || !strings.Contains(body, "alice@example.com") {
			t.Errorf("%s: %d, or alice missing", want, resp.StatusCode)
		}
	}
	// The page writes the API's names into its own form and links.
	_, body := c.get("/admin/sessions?scoreBelow=101&order=asc")
	for _, name := range []string{`name="scoreBelow"`, `name="order"`, `value="active,inactive"`} {
		if !strings.Contains(body, name) {
			t.Errorf("sessions page lacks %s", name)
		}
	}
	for _, old := range []string{`name="below"`, `name="dir"`, `value="live"`} {
		if strings.Contains(body, old) {
			t.Errorf("sessions page still has %s", old)
		}
	}
}

func TestSessionsPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 60 {
		e.login("user"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", "203.0.113.10", uaChromeMac)
	}
	c := e.client()
	c.signIn()
	_, body := c.get("/admin/sessions")
	if n := strings.Count(body, `data-session="`); n != 50 {
		t.Fatalf("first page rows = %d, want 50", n)
	}
	i := strings.Index(body, `rel="next"`)
	if i < 0 {
		t.Fatal("no next page link")
	}
	href := body[strings.LastIndex(body[:i], `href="`)+6:]
	href = strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	resp, body2 := c.get(href)
	if resp.StatusCode != 200 {
		t.Fatalf("next page: %d", resp.StatusCode)
	}
	if n := strings.Count(body2, `data-session="`); n != 10 {
		t.Fatalf("second page rows = %d, want 10", n)
	}
	if strings.Contains(body2, `rel="next"`) {
		t.Error("last page has a next link")
	}
}

func TestTerminateThroughUI(t *testing.T) {
	e := newEnv(t)
	res := e.seed()
	c := e.client()
	c.signIn()
	ctx := context.Background()
	alice := res["alice"]
	if _, err := e.manager.Authenticate(ctx, alice.AccessToken); err != nil {
		t.Fatalf("before: %v", err)
	}
	resp, _ := c.post("/admin/sessions/"+alice.Session.ID+"/terminate", url.Values{"back": {"/admin/sessions"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/sessions?done=terminated") {
		t.Fatalf("terminate: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	s, err := e.store.SessionByID(ctx, alice.Session.ID)
	if err != nil || s.Status != sm.StatusEnded || s.EndReason != sm.EndManual {
		t.Fatalf("session after terminate: %+v %v", s, err)
	}
	if _, err := e.manager.Authenticate(ctx, alice.AccessToken); sm.ErrorCode(err) != sm.EUNAUTHORIZED {
		t.Fatalf("access token still works: %v", err)
	}
	evs, _, _ := e.store.ListEvents(ctx, sm.EventFilter{SessionID: alice.Session.ID, Types: []string{sm.EventSessionEnded}})
	if len(evs) != 1 || evs[0].ActorType != sm.ActorAdmin || evs[0].ActorID != e.admin.ID || evs[0].IP != "127.0.0.1" {
		t.Fatalf("end event: %+v", evs)
	}
	// Bulk: bob and carol together.
	resp, _ = c.post("/admin/sessions/terminate", url.Values{"id": {res["bob"].Session.ID, res["carol"].Session.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk terminate: %d", resp.StatusCode)
	}
	for _, k := range []string{"bob", "carol"} {
		if s, _ := e.store.SessionByID(ctx, res[k].Session.ID); s.Status != sm.StatusEnded {
			t.Errorf("%s not ended by the bulk action", k)
		}
	}
}

func TestUserActions(t *testing.T) {
	e := newEnv(t)
	res := e.seed()
	e.login("alice@example.com", "198.51.100.7", uaIPhone)
	c := e.client()
	c.signIn()
	ctx := context.Background()
	uid := res["alice"].User.ID
	resp, _ := c.post("/admin/users/"+uid+"/terminate-all", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("terminate all: %d", resp.StatusCode)
	}
	page, _ := e.store.ListSessions(ctx, sm.SessionFilter{UserID: uid, Status: []sm.Status{sm.StatusActive, sm.StatusInactive}})
	if len(page.Sessions) != 0 {
		t.Fatalf("%d sessions still live", len(page.Sessions))
	}
	resp, _ = c.post("/admin/users/"+uid+"/block", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("block: %d", resp.StatusCode)
	}
	u, _ := e.store.UserByID(ctx, uid)
	if !u.Blocked {
		t.Fatal("user not blocked")
	}
	if _, err := e.manager.StartSession(ctx, u, sm.AuthPassword, sm.ClientInfo{IP: res["alice"].Session.IP}); sm.ErrorCode(err) != sm.EFORBIDDEN {
		t.Fatalf("blocked user logged in: %v", err)
	}
	_, body := c.get("/admin/users/" + uid)
	if !strings.Contains(body, "Unblock user") {
		t.Error("user page does not offer unblock")
	}
	c.post("/admin/users/"+uid+"/unblock", nil)
	if u, _ := e.store.UserByID(ctx, uid); u.Blocked {
		t.Fatal("user still blocked")
	}
}

func TestGeofenceSettings(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn()
	ctx := context.Background()
	// The same country allowed and blocked: the Manager refuses, the page
	// says why next to the blocked list and keeps the choices.
	resp, body := c.post("/admin/settings/geofence", url.Values{"allowed": {"DE", "FR"}, "blocked": {"FR"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("conflicting lists: %d", resp.StatusCode)
	}
	picker := body[strings.Index(body, `id="picker-blocked"`):]
	picker = picker[:strings.Index(picker, "</fieldset>")]
	if !strings.Contains(picker, `&#34;FR&#34; is also in allowedCountries`) {
		t.Errorf("field error not next to the blocked list")
	}
	if !strings.Contains(picker, `value="FR" checked`) {
		t.Errorf("the refused choice was not kept")
	}
	if st, _ := e.manager.Settings(ctx); len(st.AllowedCountries) != 0 {
		t.Fatalf("refused settings were stored: %+v", st.AllowedCountries)
	}
	resp, _ = c.post("/admin/settings/geofence", url.Values{"blocked": {"FR"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save geofence: %d", resp.StatusCode)
	}
	e.geo.set("203.0.113.99", sm.GeoResult{Location: sm.Location{CountryCode: "FR", CountryName: "France"}})
	_, err := e.manager.StartSession(ctx, e.user("eve@example.com"), sm.AuthPassword, sm.ClientInfo{IP: mustAddr("203.0.113.99")})
	if sm.ErrorCode(err) != sm.EFORBIDDEN {
		t.Fatalf("login from a blocked country: %v", err)
	}
	// Policy form: a non-number is named; a good one is stored.
	resp, body = c.post("/admin/settings/policy", policyForm("scoreThreshold", "abc"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "must be a number") {
		t.Fatalf("bad threshold: %d", resp.StatusCode)
	}
	resp, body = c.post("/admin/settings/policy", policyForm("scoreThreshold", "250"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "must be between 0 and 100") {
		t.Fatalf("threshold out of range: %d", resp.StatusCode)
	}
	resp, _ = c.post("/admin/settings/policy", policyForm("scoreThreshold", "55"))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save policy: %d", resp.StatusCode)
	}
	if st, _ := e.manager.Settings(ctx); st.ScoreThreshold != 55 || st.Actions.VPN != sm.ActionBlock || st.MaxSessionsPerUser != 3 || st.RequireEmailConfirmation {
		t.Fatalf("policy not stored: %+v", st)
	}
	if resp, _ = c.post("/admin/settings/policy", policyForm("requireEmailConfirmation", "on")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("require confirmation: %d", resp.StatusCode)
	}
	if st, _ := e.manager.Settings(ctx); !st.RequireEmailConfirmation {
		t.Fatal("requireEmailConfirmation not stored")
	}
	if _, body = c.get("/admin/settings"); !strings.Contains(body, `name="requireEmailConfirmation" checked`) {
		t.Error("the settings page does not show requireEmailConfirmation on")
	}
}

func policyForm(k, v string) url.Values {
	f := url.Values{"geoLookupFailure": {"allow"}, "scoreThreshold": {"40"}, "maxSessionsPerUser": {"3"},
		"impossibleTravelKmh": {"1000"}, "failedLoginsAccount": {"5"}, "failedLoginsIp": {"20"}}
	for _, p := range policyKeys {
		f.Set("action."+p, "alert")
	}
	f.Set("action.vpn", "block")
	f.Set(k, v)
	return f
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestAnonymousActionRefused(t *testing.T) {
	e := newEnv(t)
	res := e.seed()
	sid := res["bob"].Session.ID
	resp, _ := e.client().do(http.MethodPost, "/admin/sessions/"+sid+"/terminate", url.Values{}, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Fatalf("anonymous terminate: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if s, _ := e.store.SessionByID(context.Background(), sid); s.Status == sm.StatusEnded {
		t.Fatal("an anonymous request ended a session")
	}
}

// TestLookalikeUserShown: the dashboard shows the name a look-alike
// username is unique as, next to its raw form.
func TestLookalikeUserShown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.manager.Now()
	if err := e.store.CreateUser(ctx, &sm.User{ID: "u-fw", Email: "zoe@example.com", Username: "ｚｏｅ", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.signIn()
	for _, path := range []string{"/admin/users", "/admin/users/u-fw"} {
		_, body := c.get(path)
		if !strings.Contains(body, "ｚｏｅ") || !strings.Contains(body, "looks like zoe") {
			t.Errorf("%s does not show the raw name and its key", path)
		}
	}
}
