package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// fuzzFixture is the real HTTP API on a real SQLite store, with a signed-in
// user and a write-scope admin token, built once per fuzzing process.
type fuzzFixture struct {
	h       http.Handler
	jwt     string
	refresh string
	admin   string
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	ctx := context.Background()
	m, st, sec := newTestManager(f, nil)
	res, err := m.Register(ctx, sm.RegisterInput{Username: "fuzzer", Email: "fuzzer@example.com", Password: "a long enough password"},
		sm.ClientInfo{UserAgent: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	admin, _, err := sm.NewAdminToken(ctx, st, sec, "fuzz", sm.ScopeWrite, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	h := NewServer(Deps{Manager: m, Core: m.AdminCore(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RefreshCookie: "msm_refresh", VerifyEmailHeader: true})
	return &fuzzFixture{h: h, jwt: res.AccessToken, refresh: res.RefreshToken, admin: admin}
}

// newTestManager is a Manager on a fresh SQLite store with cheap password
// hashing, with geo as its resolver (nil: none).
func newTestManager(tb testing.TB, geo sm.GeoResolver) (*sm.Manager, *sqlite.Store, *token.Secrets) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "sm.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	sec, err := token.NewSecrets(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := token.NewKeyring(ctx, st, sec, token.Config{Issuer: "test", Audience: "test", TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := sm.New(sm.Config{Store: st, Tokens: keys, Secrets: sec, UserAgents: device.New(), Geo: geo, InstanceID: "test",
		Passwords: password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return m, st, sec
}

// do serves one request and returns the status and body.
func (fx *fuzzFixture) do(method, path, bearer, contentType string, header http.Header, body []byte) (int, string) {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.RemoteAddr = "203.0.113.9:5555"
	for k, v := range header {
		r.Header[k] = v
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// fuzzRoutes are the endpoints that decode a JSON body.
var fuzzRoutes = []struct{ method, path, auth string }{
	{"POST", "/api/auth/local/register", ""},
	{"POST", "/api/auth/local", ""},
	{"POST", "/api/auth/refresh", ""},
	{"POST", "/api/auth/change-password", "user"},
	{"PUT", "/api/admin/settings", "admin"},
}

// FuzzJSONBodies sends any body with any Content-Type to every JSON
// endpoint of the real handler: the answer is never a 5xx (a panic would be
// a 500 through the recoverer), an error is a JSON error object with a
// message, and a body over 1 MiB is never read past the cap.
func FuzzJSONBodies(f *testing.F) {
	seeds := []string{
		`{"identifier":"fuzzer","password":"wrong"}`, `{bad json`, ``, `[]`, `null`, `{"identifier": 5, "password": true}`,
		`{"identifier":"x","password":"y"} {"again":1}`, `{"username":"x","email":"not an email","password":""}`,
		`{"refreshToken": 12}`, `{"refreshToken":"forged"}`, `{"currentPassword":"x","password":"y","passwordConfirmation":"z"}`,
		`{"scoreThreshold":"high","allowedCountries":["XX"]}`, `{"unknownKey":1}`, `{"maxSessionsPerUser":-1}`,
		`{"identifier":"\u0000\ud800","password":"\u202e"}`, `{"a":{"a":{"a":{"a":[[[[[[[[[[]]]]]]]]]]}}}}`,
		`{"identifier":"fuzzer","password":"x","identifier":"dup"}`, "\xef\xbb\xbf{}", `1e999999`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), "application/json", []byte(s))
	}
	f.Add(uint8(1), "text/plain", []byte(`{"identifier":"fuzzer","password":"x"}`))
	f.Add(uint8(4), "", []byte(`{"allowedCountries":["de","DE","zz"]}`))
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		bearer := map[string]string{"user": fx.jwt, "admin": fx.admin}[rt.auth]
		code, out := fx.do(rt.method, rt.path, bearer, contentType, nil, body)
		if code >= 500 {
			t.Fatalf("%s %s %q %q: %d %s", rt.method, rt.path, contentType, body, code, out)
		}
		if code >= 400 && !strings.Contains(out, `"message":`) {
			t.Fatalf("%s %s %q: error without a message: %d %s", rt.method, rt.path, body, code, out)
		}
	})
}

// FuzzForwardAuthCookie sends any Cookie header to forward auth and to the
// cookie refresh path: never a 5xx; forward auth answers 200 only for the
// exact access token issued, and the refresh path never accepts a cookie
// that is not the issued refresh token.
func FuzzForwardAuthCookie(f *testing.F) {
	for _, s := range []string{
		"msm_session=", "msm_session=garbage", "msm_session=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwic2lkIjoieSJ9.",
		"a=b; msm_session=x; msm_session=y", `msm_session="quoted"`, "msm_refresh=" + strings.Repeat("A", 43),
		"msm_refresh=forged; msm_session=forged", "=;;=;", "msm_session=\x00\xff",
	} {
		f.Add(s)
	}
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, cookie string) {
		hdr := http.Header{"Cookie": {cookie}}
		code, out := fx.do("GET", "/api/auth/verify", "", "", hdr, nil)
		if code >= 500 || (code != 200 && code != 401) {
			t.Fatalf("verify with Cookie %q: %d %s", cookie, code, out)
		}
		if code == 200 {
			r := &http.Request{Header: hdr}
			c, err := r.Cookie(SessionCookie)
			if err != nil || c.Value != fx.jwt {
				t.Fatalf("verify accepted Cookie %q", cookie)
			}
		}
		code, out = fx.do("POST", "/api/auth/refresh", "", "", hdr, nil)
		if code >= 500 {
			t.Fatalf("refresh with Cookie %q: %d %s", cookie, code, out)
		}
		if code == 200 {
			r := &http.Request{Header: hdr}
			if c, err := r.Cookie("msm_refresh"); err != nil || c.Value != fx.refresh {
				t.Fatalf("refresh accepted Cookie %q", cookie)
			}
		}
	})
}
