package sessionmanager

import (
	"net"
	"net/http"
	"strings"
)

// CookiePolicy is the one place that decides the attributes of every cookie
// the service sets (dashboard session, refresh token, any other): HttpOnly,
// SameSite=Strict unless the cookie asks for Lax, and Secure as below. The
// dashboard and the API both set cookies only through Set.
type CookiePolicy struct {
	// Production marks every cookie Secure, always: a TLS-terminating proxy
	// that sends no X-Forwarded-Proto must not get a cookie that a browser
	// would later send over plain HTTP.
	Production bool
	// Insecure (outside production only) drops Secure for plain-HTTP
	// development on a non-loopback address.
	Insecure bool
}

// Secure reports whether a cookie set in answer to r is Secure: always in
// production, over TLS or behind a proxy that says https; outside
// production it is dropped only for plain HTTP from a loopback peer (local
// development) or when Insecure says so.
func (p CookiePolicy) Secure(r *http.Request) bool {
	if p.Production || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	if p.Insecure {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// Set writes c with the policy's attributes.
func (p CookiePolicy) Set(w http.ResponseWriter, r *http.Request, c *http.Cookie) {
	c.Secure = p.Secure(r)
	c.HttpOnly = true
	if c.SameSite != http.SameSiteLaxMode {
		c.SameSite = http.SameSiteStrictMode
	}
	http.SetCookie(w, c)
}

// Clear expires the cookie name on path.
func (p CookiePolicy) Clear(w http.ResponseWriter, r *http.Request, name, path string) {
	p.Set(w, r, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1})
}
