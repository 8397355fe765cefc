package sessionmanager_test

import (
	"sync"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/risk"
)

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"

// hasReason reports whether the session's risk reasons name code.
func hasReason(s *sm.Session, code string) bool {
	for _, r := range s.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

// TestTrustedDeviceIsAKnownDevice: a new browser is a new_device; once
// remembered, the same user's login presenting its token is not, while the
// token copied to another user, an expired one, a revoked one or a forged
// one changes nothing. The store keeps no token in clear.
func TestTrustedDeviceIsAKnownDevice(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("ann")
		bob := e.register("bob").User
		ann, err := e.store.UserByIdentifier(e.ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		firefox := sm.ClientInfo{IP: client.IP, UserAgent: firefoxUA}
		login := func(name string, c sm.ClientInfo) *sm.Session {
			t.Helper()
			res, err := e.m.Login(e.ctx, name, "a long enough password", c)
			if err != nil {
				t.Fatalf("login %s: %v", name, err)
			}
			return res.Session
		}
		if s := login("ann", firefox); !hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("a new browser is a new device: %+v", s.Reasons)
		}
		g, err := e.m.RememberDevice(e.ctx, ann, firefox, sm.Device{})
		if err != nil {
			t.Fatal(err)
		}
		if g.Device.Name != "Firefox / Linux" || !g.Device.ExpiresAt.Equal(e.clock.Now().Add(30*24*time.Hour)) {
			t.Fatalf("device: %+v", g.Device)
		}
		// Each check below signs in with a browser family not seen before
		// (every login makes its family known): only the token can make it
		// known.
		ua := func(s string) sm.ClientInfo { return sm.ClientInfo{IP: client.IP, UserAgent: s} }
		safariMac := ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15")
		edgeWin := ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0")
		firefoxWin := ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0")
		chromeLinux := ua("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
		firefoxMac := ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0")
		chromeMac := ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
		chromeAndroid := ua("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36")
		with := func(c sm.ClientInfo, token string) sm.ClientInfo { c.DeviceToken = token; return c }

		if s := login("ann", with(safariMac, g.Token)); hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("the trusted device is a new device: %+v", s.Reasons)
		}
		if s := login("ann", edgeWin); !hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("without the token a new browser is new: %+v", s.Reasons)
		}
		// Copied to another user: nothing.
		if s := login("bob", with(firefoxWin, g.Token)); !hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("ann's token made bob's device known: %+v", s.Reasons)
		}
		if s := login("ann", with(chromeLinux, g.Token[:len(g.Token)-2]+"AA")); !hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("a forged token made the device known: %+v", s.Reasons)
		}
		// Nothing in clear in the store: the stored hash is not the token.
		list, err := e.m.ListTrustedDevices(e.ctx, ann.ID)
		if err != nil || len(list) != 1 || string(list[0].Hash) == g.Token {
			t.Fatalf("list: %v %+v", err, list)
		}
		// Expired after 30 days.
		e.clock.Advance(30*24*time.Hour + time.Second)
		if s := login("ann", with(firefoxMac, g.Token)); !hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("an expired token made the device known: %+v", s.Reasons)
		}
		// Revoked (by the user) before it expires.
		g2, err := e.m.RememberDevice(e.ctx, ann, firefoxMac, sm.Device{})
		if err != nil {
			t.Fatal(err)
		}
		if s := login("ann", with(chromeMac, g2.Token)); hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("the second trusted device: %+v", s.Reasons)
		}
		if _, err := e.m.ForgetMyTrustedDevices(e.ctx, sm.Principal{UserID: bob.ID}, g2.Device.ID, client); sm.ErrorCode(err) != sm.ENOTFOUND {
			t.Fatalf("bob forgot ann's device: %v", err)
		}
		if n, err := e.m.ForgetMyTrustedDevices(e.ctx, sm.Principal{UserID: ann.ID}, g2.Device.ID, client); err != nil || n != 1 {
			t.Fatalf("forget: %d %v", n, err)
		}
		if s := login("ann", with(chromeAndroid, g2.Token)); !hasReason(s, sm.ReasonNewDevice) {
			t.Fatalf("a revoked token made the device known: %+v", s.Reasons)
		}
	}, func(c *sm.Config) { c.Risk = risk.New() })
}

// TestReportSessionLink: the report link is bound to its session by its
// signature, expires, works once, and the flag it sets is cleared only by
// the password reset.
func TestReportSessionLink(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		e.register("ann")
		s := e.login("ann").Session
		links := sm.ReportLinks{Secrets: e.secrets, BaseURL: "https://auth.example.com/"}
		link := links.URL(s.ID, e.clock.Now())
		const prefix = "https://auth.example.com/api/auth/report?token="
		if len(link) <= len(prefix) || link[:len(prefix)] != prefix {
			t.Fatalf("link %q", link)
		}
		tok := link[len(prefix):]
		other := sm.ReportLinks{Secrets: e.secrets, BaseURL: "https://x"}.URL(e.login("ann").Session.ID, e.clock.Now())
		// A signature of one session does not cover another.
		forged := other[len("https://x/api/auth/report?token="):]
		forged = s.ID + forged[len(s.ID):]
		for _, bad := range []string{forged, tok + "x", "a.b.c", ""} {
			if _, err := e.m.CheckSessionReport(e.ctx, bad); sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("bad token %q: %v", bad, err)
			}
		}
		if r, err := e.m.CheckSessionReport(e.ctx, tok); err != nil || r.Session.ID != s.ID {
			t.Fatalf("check: %v %+v", err, r)
		}
		e.clock.Advance(7*24*time.Hour + time.Second)
		if _, err := e.m.ReportSession(e.ctx, tok, false, client); sm.ErrorCode(err) != sm.EINVALID || err.(*sm.Error).Reason != "link_expired" {
			t.Fatalf("expired: %v", err)
		}
		s = e.login("ann").Session
		tok = sm.ReportLinks{Secrets: e.secrets, BaseURL: "https://a"}.URL(s.ID, e.clock.Now())[len("https://a/api/auth/report?token="):]
		// Concurrent confirmations (a double click, a racing request):
		// exactly one reports, the others are link_used.
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		reports := make([]*sm.SessionReport, n)
		for i := range n {
			wg.Go(func() { reports[i], errs[i] = e.m.ReportSession(e.ctx, tok, false, client) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if reports[i].Ended != 1 {
					t.Fatalf("report: %+v", reports[i])
				}
			case sm.ErrorCode(err) != sm.EINVALID || err.(*sm.Error).Reason != "link_used":
				t.Fatalf("a losing report: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent reports won", won)
		}
		events, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventSessionReported}})
		if err != nil || len(events) != 1 {
			t.Fatalf("session.reported events: %v %d", err, len(events))
		}
		if _, err := e.m.ReportSession(e.ctx, tok, true, client); sm.ErrorCode(err) != sm.EINVALID || err.(*sm.Error).Reason != "link_used" {
			t.Fatalf("replay: %v", err)
		}
		if _, err := e.m.Login(e.ctx, "ann", "a long enough password", client); sm.ErrorCode(err) != sm.EFORBIDDEN || err.(*sm.Error).Reason != sm.ReasonPasswordResetRequired {
			t.Fatalf("password login after a report: %v", err)
		}
		if _, err := e.m.Login(e.ctx, "ann", "a wrong password!", client); sm.ErrorCode(err) != sm.EINVALID {
			t.Fatalf("wrong password after a report: %v", err)
		}
	})
}
