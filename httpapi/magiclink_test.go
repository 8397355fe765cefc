package httpapi

import (
	"context"
	"net/http/httptest"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

type nopMailer struct{}

func (nopMailer) SendMagicLink(context.Context, sm.MagicLinkMail) error { return nil }

func TestMagicLinkURLValidation(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://app.example.com/auth/magic?token=", true},
		{"http://localhost:3000/magic", true},
		{"ftp://app.example.com/magic", false},
		{"/auth/magic?token=", false},
		{"https://user:pw@app.example.com/magic", false},
		{"https://app.example.com/magic#frag", false},
		{"not a url", false},
	}
	for _, c := range cases {
		_, err := NewMagicLinkConfig(c.url, sm.MagicLinkOptions{}, nopMailer{})
		if (err == nil) != c.ok {
			t.Errorf("%q: err %v, want ok=%v", c.url, err, c.ok)
		}
	}
	if _, err := NewMagicLinkConfig("https://app.example.com/m", sm.MagicLinkOptions{}, nil); err == nil {
		t.Error("a config without a mailer was accepted")
	}
}

func TestMagicLinkSameOrigin(t *testing.T) {
	c, err := NewMagicLinkConfig("https://app.example.com/auth/magic?token=", sm.MagicLinkOptions{}, nopMailer{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		redirect, want string
		ok             bool
	}{
		{"/dashboard", "https://app.example.com/dashboard", true},
		{"https://app.example.com/billing?x=1", "https://app.example.com/billing?x=1", true},
		{"https://APP.example.com/x", "https://APP.example.com/x", true},
		{"settings", "https://app.example.com/auth/settings", true},
		{"https://evil.example/", "", false},
		{"//evil.example/x", "", false},
		{"/\\evil.example", "", false},
		{"http://app.example.com/downgrade", "", false},
		{"https://app.example.com.evil.example/", "", false},
		{"https://app.example.com:8443/", "", false},
		{"javascript:alert(1)", "", false},
		{"https://user@app.example.com/", "", false},
		{"/ok\r\nSet-Cookie: x", "", false},
	}
	for _, tc := range cases {
		got, ok := c.sameOrigin(tc.redirect)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: got %q %v, want %q %v", tc.redirect, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMagicLinkLink(t *testing.T) {
	for _, tc := range []struct{ base, redirect, want string }{
		{"https://a.example/m?token=", "", "https://a.example/m?token=t%2Bk"},
		{"https://a.example/m", "", "https://a.example/m?token=t%2Bk"},
		{"https://a.example/m?lang=en", "https://a.example/x?y=1", "https://a.example/m?lang=en&token=t%2Bk&redirect=https%3A%2F%2Fa.example%2Fx%3Fy%3D1"},
	} {
		c, err := NewMagicLinkConfig(tc.base, sm.MagicLinkOptions{}, nopMailer{})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.link("t+k", tc.redirect); got != tc.want {
			t.Errorf("link(%q): %q, want %q", tc.base, got, tc.want)
		}
	}
}

func TestExternalSessionRequestValid(t *testing.T) {
	cases := []struct {
		name string
		req  externalSessionRequest
		bad  []string
	}{
		{"ok v4", externalSessionRequest{ExternalUserID: "a|1", IP: "203.0.113.7"}, nil},
		{"ok v6 and email", externalSessionRequest{ExternalUserID: "a|1", IP: "2001:db8::1", Email: "a@example.com"}, nil},
		{"no id", externalSessionRequest{IP: "203.0.113.7"}, []string{"externalUserId"}},
		{"bad ip", externalSessionRequest{ExternalUserID: "x", IP: "300.1.1.1"}, []string{"ip"}},
		{"unspecified ip", externalSessionRequest{ExternalUserID: "x", IP: "::"}, []string{"ip"}},
		{"zoned ip", externalSessionRequest{ExternalUserID: "x", IP: "fe80::1%eth0"}, []string{"ip"}},
		{"bad email", externalSessionRequest{ExternalUserID: "x", IP: "203.0.113.7", Email: "Ada <a@example.com>"}, []string{"email"}},
	}
	for _, tc := range cases {
		bad := tc.req.Valid()
		if len(bad) != len(tc.bad) {
			t.Errorf("%s: %v, want fields %v", tc.name, bad, tc.bad)
			continue
		}
		for _, f := range tc.bad {
			if bad[f] == "" {
				t.Errorf("%s: field %s not named in %v", tc.name, f, bad)
			}
		}
	}
}

func TestRevocationCursor(t *testing.T) {
	cases := []struct {
		header, query string
		want          int64
		from, ok      bool
	}{
		{"", "", 0, false, true},
		{"42", "", 42, true, true},
		{"", "7", 7, true, true},
		{"9", "7", 9, true, true}, // the header wins: EventSource sends it on reconnect
		{"-1", "", 0, false, false},
		{"abc", "", 0, false, false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/api/auth/revocations?after="+tc.query, nil)
		if tc.query == "" {
			r = httptest.NewRequest("GET", "/api/auth/revocations", nil)
		}
		if tc.header != "" {
			r.Header.Set("Last-Event-ID", tc.header)
		}
		got, from, err := revocationCursor(r)
		if (err == nil) != tc.ok || got != tc.want || from != tc.from {
			t.Errorf("header %q query %q: %d %v %v", tc.header, tc.query, got, from, err)
		}
	}
}
