package sessionmanager

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCookiePolicySecure: outside production Secure is dropped only for
// plain HTTP from loopback (or when Insecure says so); in production every
// cookie is Secure whatever the request looked like.
func TestCookiePolicySecure(t *testing.T) {
	tests := []struct {
		policy CookiePolicy
		remote string
		proto  string
		tls    bool
		want   bool
	}{
		{CookiePolicy{}, "127.0.0.1:5000", "", false, false},
		{CookiePolicy{}, "[::1]:5000", "", false, false},
		{CookiePolicy{}, "127.0.0.1:5000", "https", false, true},
		{CookiePolicy{}, "127.0.0.1:5000", "", true, true},
		{CookiePolicy{}, "10.0.0.8:5000", "", false, true},
		{CookiePolicy{}, "203.0.113.4:5000", "", false, true},
		{CookiePolicy{Insecure: true}, "203.0.113.4:5000", "", false, false},
		// Production: a proxy on loopback or anywhere that sends no
		// X-Forwarded-Proto still gets Secure cookies.
		{CookiePolicy{Production: true}, "127.0.0.1:5000", "", false, true},
		{CookiePolicy{Production: true}, "[::1]:5000", "http", false, true},
		{CookiePolicy{Production: true, Insecure: true}, "127.0.0.1:5000", "", false, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "http://x/admin/", nil)
		r.RemoteAddr = tt.remote
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		r.TLS = nil
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := tt.policy.Secure(r); got != tt.want {
			t.Errorf("%+v.Secure(%s, proto %q, tls %v) = %v, want %v", tt.policy, tt.remote, tt.proto, tt.tls, got, tt.want)
		}
		w := httptest.NewRecorder()
		tt.policy.Set(w, r, &http.Cookie{Name: "c", Value: "v", Path: "/"})
		c := w.Result().Cookies()[0]
		if c.Secure != tt.want || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("Set: cookie %+v, want Secure=%v, HttpOnly, SameSite=Strict", c, tt.want)
		}
	}
}

// TestCookiesSetInOnePlace: no front end sets a cookie except through
// CookiePolicy (a new Set-Cookie elsewhere would escape the production rule).
func TestCookiesSetInOnePlace(t *testing.T) {
	files, _ := filepath.Glob("*/*.go")
	more, _ := filepath.Glob("*/*/*.go")
	checked := 0
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, bad := range []string{"http.SetCookie(", `"Set-Cookie"`} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s sets a cookie with %s; use sm.CookiePolicy.Set", f, bad)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d files checked", checked)
	}
}
