package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// cookieOf returns the admin cookie the client's jar holds.
func (c *client) cookieOf() *http.Cookie {
	u, _ := url.Parse(c.base + "/admin/")
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck
		}
	}
	c.t.Fatal("no admin cookie")
	return nil
}

// withCookie asks path with only this cookie value, as a thief holding a
// copy of it would.
func (e *testEnv) withCookie(value, path string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: value})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSignOutEndsSessionServerSide: a copy of the cookie taken before
// sign-out is refused after it (it stayed valid for 8 hours when the cookie
// was a sealed, stateless session).
func TestSignOutEndsSessionServerSide(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn()
	stolen := c.cookieOf().Value
	if got := e.withCookie(stolen, "/admin/"); got != http.StatusOK {
		t.Fatalf("the copy works while signed in: %d", got)
	}
	if resp, _ := c.post("/admin/logout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if got := e.withCookie(stolen, "/admin/"); got != http.StatusSeeOther {
		t.Fatalf("the old cookie still opens the dashboard after sign-out: %d", got)
	}
	list, err := e.manager.ListAdminSessions(context.Background(), e.admin.ID)
	if err != nil || len(list) != 0 {
		t.Fatalf("live sessions after sign-out: %d, %v", len(list), err)
	}
}

// TestAdminCookieHoldsOnlyARandomToken: the store keeps a keyed hash of the
// cookie, never the cookie; the CSRF token is neither.
func TestAdminCookieHoldsOnlyARandomToken(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn()
	token := c.cookieOf().Value
	as, err := e.store.AdminSessionByHash(context.Background(), e.secrets.LookupHash(token))
	if err != nil || as.AdminID != e.admin.ID {
		t.Fatalf("session by the keyed hash of the cookie: %+v, %v", as, err)
	}
	if bytes.Contains(as.Hash, []byte(token)) || strings.Contains(token, as.ID) || strings.Contains(token, e.admin.ID) {
		t.Fatal("the cookie or the store holds the other in clear")
	}
	if c.csrf == "" || c.csrf == token || strings.Contains(c.csrf, as.ID) {
		t.Fatalf("CSRF token %q is not independent of the cookie", c.csrf)
	}
}

// TestAdminIdleTimeout: a session unused for the idle timeout ends; one in
// use does not.
func TestAdminIdleTimeout(t *testing.T) {
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Microsecond))
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	busy, idle := e.client(), e.client()
	busy.signIn()
	idle.signIn()
	for range 4 {
		clock.Advance(sm.DefaultAdminIdleTimeout / 2)
		if resp, _ := busy.get("/admin/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("a session in use ended: %d", resp.StatusCode)
		}
		// The idle page's automatic refresh is not activity.
		if resp, _ := idle.do(http.MethodGet, "/admin/sessions/table", nil, map[string]string{"X-SM-Background": "1", "HX-Request": "true"}); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("background refresh: %d", resp.StatusCode)
		}
	}
	resp, _ := idle.get("/admin/")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session unused for %v still works: %d", 2*sm.DefaultAdminIdleTimeout, resp.StatusCode)
	}
	evs, _, err := e.store.ListEvents(context.Background(), sm.EventFilter{Types: []string{sm.EventAdminAction}, Desc: true, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || (strings.Contains(string(ev.Data), sm.ActionAdminSessionEnded) && strings.Contains(string(ev.Data), `"idle"`))
	}
	if !found {
		t.Fatal("the idle end is not in the audit log")
	}
}

// TestAdminPasswordChangeEndsOtherSessions: changing the password from one
// browser ends the admin's other sessions and keeps this one.
func TestAdminPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	here, other := e.client(), e.client()
	here.signIn()
	other.signIn()
	if resp, body := here.get("/admin/account"); resp.StatusCode != http.StatusOK || strings.Count(body, "data-admin-session=") != 2 {
		t.Fatalf("account page lists the two sign-ins: %d", resp.StatusCode)
	}
	// A wrong current password changes nothing.
	resp, body := here.post("/admin/account/password", url.Values{"current": {"wrong password"}, "password": {"a brand new passphrase 42"}, "again": {"a brand new passphrase 42"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is not the current password") {
		t.Fatalf("wrong current password: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/admin/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a refused change ended the other session: %d", resp.StatusCode)
	}
	resp, _ = here.post("/admin/account/password", url.Values{"current": {adminPassword}, "password": {"a brand new passphrase 42"}, "again": {"a brand new passphrase 42"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change password: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other session survived the password change: %d", resp.StatusCode)
	}
	if resp, _ := here.get("/admin/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session that changed the password ended: %d", resp.StatusCode)
	}
	a, _ := e.store.AdminByID(context.Background(), e.admin.ID)
	if ok, _ := e.manager.Config().Passwords.Verify(a.PasswordHash, "a brand new passphrase 42"); !ok {
		t.Fatal("the new password was not stored")
	}
}

// TestAdminEndsOtherSignInFromAccountPage: the "Sign out" of a row on the
// account page ends that sign-in.
func TestAdminEndsOtherSignInFromAccountPage(t *testing.T) {
	e := newEnv(t)
	here, other := e.client(), e.client()
	here.signIn()
	other.signIn()
	otherID := ""
	list, _ := e.manager.ListAdminSessions(context.Background(), e.admin.ID)
	for _, as := range list {
		if as.Hash != nil && bytes.Equal(as.Hash, e.secrets.LookupHash(other.cookieOf().Value)) {
			otherID = as.ID
		}
	}
	if otherID == "" {
		t.Fatal("other session not listed")
	}
	resp, _ := here.post("/admin/account/sessions/"+otherID+"/end", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("end other sign-in: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the ended sign-in still works: %d", resp.StatusCode)
	}
	if resp, _ := here.get("/admin/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("this sign-in ended too: %d", resp.StatusCode)
	}
	// Someone else's or an unknown session: 404, nothing ends.
	if resp, _ := here.post("/admin/account/sessions/nope/end", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown session: %d", resp.StatusCode)
	}
}

// TestEventStreamClosesWhenSignInEnds: the live stream of a sign-in that is
// ended elsewhere closes at once instead of streaming on.
func TestEventStreamClosesWhenSignInEnds(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := openStream(t, c, ctx)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatalf("stream start: %v", err)
	}
	as, err := e.store.AdminSessionByHash(ctx, e.secrets.LookupHash(c.cookieOf().Value))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.manager.EndAdminSession(sm.WithActor(ctx, sm.Actor{Type: sm.ActorAdmin}), as.ID, sm.EndManual); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean close", err)
		}
	case <-ctx.Done():
		t.Fatal("the live stream of an ended sign-in stayed open")
	}
}

// TestAdminSessionListEndsIdleOnes: a sign-in idle past the timeout is not
// listed as live (it is ended as idle when the list is read).
func TestAdminSessionListEndsIdleOnes(t *testing.T) {
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Microsecond))
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	here, gone := e.client(), e.client()
	gone.signIn()
	clock.Advance(sm.DefaultAdminIdleTimeout + 2*time.Minute)
	here.signIn()
	list, err := e.manager.ListAdminSessions(context.Background(), e.admin.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("live sign-ins: %d, %v; want only the fresh one", len(list), err)
	}
	as, _ := e.store.AdminSessionByHash(context.Background(), e.secrets.LookupHash(gone.cookieOf().Value))
	if as.EndReason != sm.EndIdle {
		t.Fatalf("the idle sign-in: %+v", as)
	}
}
