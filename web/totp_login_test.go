package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

func TestSignInWithTOTP(t *testing.T) {
	e := newEnv(t)
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	e.enableTOTP(secret)
	code, err := sm.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := e.client()
	form := func(code string) url.Values {
		return url.Values{"email": {adminEmail}, "password": {adminPassword}, "code": {code}}
	}
	// Without a code, the password step answers with the code step.
	if resp, body := c.do(http.MethodPost, "/admin/login", form(""), nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/admin/login/code"`) {
		t.Fatalf("no code: %d, want the code step", resp.StatusCode)
	}
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if resp, _ := c.do(http.MethodPost, "/admin/login", form(wrong), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", resp.StatusCode)
	}
	if resp, _ := c.do(http.MethodPost, "/admin/login", form(code), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right code: %d", resp.StatusCode)
	}
	// The same code again is a replay.
	if resp, _ := e.client().do(http.MethodPost, "/admin/login", form(code), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d", resp.StatusCode)
	}
}

// TestSignInThrottled: after 10 failed sign-ins from one address (to any
// accounts) even the right password from it is refused with 429 and a
// Retry-After, through the Manager's shared counter.
func TestSignInThrottled(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for i := range 10 {
		resp, _ := c.do(http.MethodPost, "/admin/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"nope"}}, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, _ := c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestExpiredOrForgedCookieRefused(t *testing.T) {
	clock := testenv.NewClock(time.Now().UTC())
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	c := e.client()
	c.signIn()
	// Kept busy, so only the absolute expiry ends it.
	for range sm.DefaultAdminSessionTTL/(20*time.Minute) - 1 {
		clock.Advance(20 * time.Minute)
		if resp, _ := c.get("/admin/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("a session in use ended before its absolute expiry: %d", resp.StatusCode)
		}
	}
	clock.Advance(21 * time.Minute)
	if resp, _ := c.get("/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("expired admin session: %d", resp.StatusCode)
	}
	// A value sealed for another purpose (the old stateless cookie's shape)
	// is no session's token.
	other, _ := e.secrets.Seal([]byte(`{"a":"`+e.admin.ID+`","e":9999999999,"c":"x"}`), sm.TOTPAdditionalData(e.admin.ID))
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: b64(other)})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d", resp.StatusCode)
	}
}

// TestCodeStepCountedUnderTicketAccount: the code step counts its attempts
// under the account its ticket names. A caller who varies the form's email
// field on every guess still meets the per-account limit (here: refuse
// after 3 failures for an account, no per-address rule).
func TestCodeStepCountedUnderTicketAccount(t *testing.T) {
	const limit = 3
	c, _, wrong := newTOTPEnvLimited(t, limit)
	resp, body := c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, nil)
	_, rest, ok := strings.Cut(body, `name="pending" value="`)
	if resp.StatusCode != http.StatusOK || !ok {
		t.Fatalf("password step: %d, no ticket", resp.StatusCode)
	}
	pending, _, _ := strings.Cut(rest, `"`)
	for i := range limit + 2 {
		resp, _ := c.do(http.MethodPost, "/admin/login/code", url.Values{"email": {fmt.Sprintf("other%d@example.com", i)}, "pending": {pending}, "code": {wrong}}, nil)
		want := http.StatusUnauthorized
		if i >= limit {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Fatalf("guess %d with a varied email: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// enableTOTP turns TOTP on for the test admin with a base32 secret.
func (e *testEnv) enableTOTP(secret string) {
	e.t.Helper()
	sealed, err := sm.SealTOTP(e.secrets, e.admin.ID, secret)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.SetAdminTOTP(context.Background(), e.admin.ID, sealed); err != nil {
		e.t.Fatal(err)
	}
}

// TestPasswordStepDoesNotClearCodeFailures: the right password, repeated,
// does not clear the account's failed codes. Only a completed sign-in
// does, so someone who knows the password still meets the per-account
// limit on guessing the code (here: refuse after 3 failures for an
// account, no per-address rule).
func TestPasswordStepDoesNotClearCodeFailures(t *testing.T) {
	const limit = 3
	c, code, wrong := newTOTPEnvLimited(t, limit)
	for i := range limit + 1 {
		resp, body := c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, nil)
		if i == limit {
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("password step after %d wrong codes: %d, want 429", limit, resp.StatusCode)
			}
			break
		}
		_, rest, ok := strings.Cut(body, `name="pending" value="`)
		if resp.StatusCode != http.StatusOK || !ok {
			t.Fatalf("password step %d: %d, no ticket", i+1, resp.StatusCode)
		}
		pending, _, _ := strings.Cut(rest, `"`)
		if resp, _ := c.do(http.MethodPost, "/admin/login/code", url.Values{"email": {adminEmail}, "pending": {pending}, "code": {wrong}}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	// A code sent with the password is counted the same way.
	if resp, _ := c.do(http.MethodPost, "/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "code": {code}}, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("password and code after %d wrong codes: %d, want 429", limit, resp.StatusCode)
	}
}

// newTOTPEnvLimited is a dashboard whose admin has TOTP on and whose
// sign-in refuses an account after limit failures (no per-address rule). It
// returns a client, the code of now and a wrong code.
func newTOTPEnvLimited(t *testing.T, limit int64) (c *client, code, wrong string) {
	e := newEnvConfig(t, func(c *sm.Config) {
		c.AdminThrottle = func(failedAccount, failedIP int64) (time.Duration, bool, time.Duration) {
			return 0, failedAccount >= limit, time.Minute
		}
	})
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	e.enableTOTP(secret)
	code, err := sm.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrong = "000000"
	if wrong == code {
		wrong = "111111"
	}
	return e.client(), code, wrong
}
