package web

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/risk"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// testGeo is a tiny GeoResolver with fixed answers per address, so the
// dashboard shows realistic places without the geo databases.
type testGeo struct {
	mu  sync.Mutex
	ips map[netip.Addr]sm.GeoResult
}

func (g *testGeo) Lookup(_ context.Context, ip netip.Addr) (sm.GeoResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ips[ip], nil // unknown address: Found is false
}

func (g *testGeo) set(ip string, r sm.GeoResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r.Found = true
	g.ips[netip.MustParseAddr(ip)] = r
}

// testEnv is the dashboard on real dependencies: SQLite store, token
// keyring and secrets, argon2id hasher, the Manager and the in-process bus.
type testEnv struct {
	t       *testing.T
	store   *sqlite.Store
	manager *sm.Manager
	secrets *token.Secrets
	bus     *sm.LocalBus
	geo     *testGeo
	handler http.Handler
	srv     *httptest.Server
	admin   *sm.Admin
	users   map[string]*sm.User
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
)

type envOption func(*Deps)

func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	return newEnvConfig(t, nil, opts...)
}

// newEnvConfig is newEnv with a change to the Manager's configuration
// (licence gate, geo resolver...).
func newEnvConfig(t *testing.T, mcfg func(*sm.Config), opts ...envOption) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secrets, err := token.NewSecrets(key)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := token.NewKeyring(ctx, st, secrets, token.Config{Issuer: "https://sm.test", Audience: "app"})
	if err != nil {
		t.Fatal(err)
	}
	hasher := password.Default()
	bus := sm.NewLocalBus(nil)
	geo := &testGeo{ips: map[netip.Addr]sm.GeoResult{}}
	// Options are applied first, so a test clock (Deps.Now) drives the
	// Manager too: dashboard sessions' idle and absolute expiry are its rules.
	var d Deps
	for _, o := range opts {
		o(&d)
	}
	cfg := sm.Config{Store: st, Tokens: kr, Secrets: secrets, Passwords: hasher, Bus: bus, Geo: geo, UserAgents: device.New(),
		Risk: risk.New(), ValidateSettings: risk.NormalizeSettings}
	if d.Now != nil {
		cfg.Clock = clockFunc{now: d.Now}
	}
	// The rules a test gives (withAlerts) are the Manager's; the dashboard
	// reaches them through the Manager's gate and audit, as in the server.
	cfg.AlertRules, d.Alerts = d.Alerts, nil
	if mcfg != nil {
		mcfg(&cfg)
	}
	m, err := sm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	d.Alerts = m.AlertRules()
	e := &testEnv{t: t, store: st, manager: m, secrets: secrets, bus: bus, geo: geo, users: map[string]*sm.User{}}
	hash, err := hasher.Hash(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.admin = &sm.Admin{ID: sm.NewID(), Email: adminEmail, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if err := st.CreateAdmin(ctx, e.admin); err != nil {
		t.Fatal(err)
	}
	d.Core, d.Secrets, d.Bus, d.UserAgents = m.AdminCore(), secrets, bus, cfg.UserAgents
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	mux := http.NewServeMux()
	mux.Handle("/admin/", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// clockFunc is a func as an sm.Clock's time; its timers are real.
type clockFunc struct {
	sm.SystemClock
	now func() time.Time
}

func (f clockFunc) Now() time.Time { return f.now() }

// user returns (creating once) a user with that email.
func (e *testEnv) user(email string) *sm.User {
	e.t.Helper()
	if u, ok := e.users[email]; ok {
		return u
	}
	now := time.Now().UTC()
	u := &sm.User{ID: sm.NewID(), Email: email, Username: email[:len(email)-len("@example.com")], CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	e.users[email] = u
	return u
}

// login starts a session for email from ip through the Manager's pipeline.
func (e *testEnv) login(email, ip, ua string) *sm.LoginResult {
	e.t.Helper()
	res, err := e.manager.StartSession(context.Background(), e.user(email), sm.AuthPassword, sm.ClientInfo{IP: netip.MustParseAddr(ip), UserAgent: ua})
	if err != nil {
		e.t.Fatalf("login %s from %s: %v", email, ip, err)
	}
	return res
}

const (
	uaChromeMac  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaIPhone     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaFirefoxWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// seed fills the store with a few users and sessions in several places.
func (e *testEnv) seed() map[string]*sm.LoginResult {
	e.geo.set("203.0.113.10", sm.GeoResult{Location: sm.Location{CountryCode: "DE", CountryName: "Germany", Flag: sm.FlagEmoji("DE"), City: "Berlin", Region: "Berlin", Latitude: 52.52, Longitude: 13.405, HasCoordinates: true, AccuracyKM: 20, TimeZone: "Europe/Berlin", ASN: 3320, ISP: "Deutsche Telekom AG"}})
	e.geo.set("198.51.100.7", sm.GeoResult{Location: sm.Location{CountryCode: "US", CountryName: "United States", Flag: sm.FlagEmoji("US"), City: "New York", Latitude: 40.71, Longitude: -74.0, HasCoordinates: true, ASN: 7922, ISP: "Comcast Cable Communications"}})
	e.geo.set("192.0.2.55", sm.GeoResult{Location: sm.Location{CountryCode: "NL", CountryName: "Netherlands", Flag: sm.FlagEmoji("NL"), City: "Amsterdam", Latitude: 52.37, Longitude: 4.89, HasCoordinates: true, ASN: 9009, ISP: "M247 Europe SRL"}, Threat: sm.Threat{VPN: true, Datacenter: true}})
	out := map[string]*sm.LoginResult{}
	out["alice"] = e.login("alice@example.com", "203.0.113.10", uaChromeMac)
	out["bob"] = e.login("bob@example.com", "198.51.100.7", uaIPhone)
	out["carol"] = e.login("carol@example.com", "192.0.2.55", uaFirefoxWin)
	return out
}

// client is a browser-like HTTP client with a cookie jar and no redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (e *testEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

func (c *client) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequest(method, c.base+path, stringsReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequest(method, c.base+path, nil)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if method != http.MethodGet {
		// What a browser sends on a same-origin form post.
		req.Header.Set("Origin", c.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	body := readAll(resp)
	if m := csrfMeta.FindStringSubmatch(body); m != nil && m[1] != "" {
		c.csrf = m[1]
	}
	return resp, body
}

func (c *client) get(path string) (*http.Response, string) {
	return c.do(http.MethodGet, path, nil, nil)
}

// post sends a form with the page's CSRF token.
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.do(http.MethodPost, path, form, nil)
}

func (c *client) signIn() {
	c.t.Helper()
	resp, body := c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in: status %d: %s", resp.StatusCode, body)
	}
	if _, body := c.get("/admin/"); c.csrf == "" {
		c.t.Fatalf("no CSRF token after sign-in: %s", body)
	}
}
