package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

const (
	confirmBase     = "http://auth.example.test/api/auth/email-confirmation?confirmation="
	confirmRedirect = "https://app.example.test/welcome"
	resetBase       = "http://app.example.test/reset-password?code="
)

var (
	confirmPattern = regexp.MustCompile(`http://auth\.example\.test/api/auth/email-confirmation\?confirmation=\S+`)
	resetPattern   = regexp.MustCompile(`http://app\.example\.test/reset-password\?code=\S+`)
)

// startAccountServer is a server with magic links and the account emails,
// all sent to one real SMTP server, on the given store.
func startAccountServer(t *testing.T, store string) (*server, *mailbox) {
	env := map[string]string{}
	if store == "postgres" {
		env = postgresEnv(t)
	}
	env["SM_MAGIC_LINK_PER_IP"] = "1000"
	env["SM_EMAIL_CONFIRMATION_URL"] = confirmBase
	env["SM_EMAIL_CONFIRMATION_REDIRECT"] = confirmRedirect
	env["SM_RESET_PASSWORD_URL"] = resetBase
	return startMagicServer(t, env)
}

// tokenIn extracts the query parameter param of the link matching pattern.
func tokenIn(t *testing.T, m receivedMail, pattern *regexp.Regexp, param string) string {
	t.Helper()
	u, err := url.Parse(pattern.FindString(m.Body))
	if err != nil || u.Query().Get(param) == "" {
		t.Fatalf("no %s link in %q", param, m.Body)
	}
	tok := u.Query().Get(param)
	if len(tok) < 40 {
		t.Fatalf("token %q is too short for 256 bits", tok)
	}
	return tok
}

// getNoRedirect GETs path and returns the status and Location.
func (s *server) getNoRedirect(path string) (int, string, map[string]any) {
	s.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header.Get("Location"), out
}

// rawCall posts a body as bytes (for invalid UTF-8) and decodes the answer.
func (s *server) rawCall(path string, body []byte) (int, map[string]any) {
	s.t.Helper()
	resp, err := http.Post(s.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func stores(t *testing.T, run func(t *testing.T, store string)) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) { run(t, store) })
	}
}

// TestAccountPreHijackEndsAtMagicLink: an attacker registers the victim's
// email with a password and keeps a session; when the victim signs in by
// magic link, the attacker's password and session die, and the victim's
// session is the one that works. The same holds when a mail scanner
// followed the confirmation link first (it confirms the email, not who
// chose the password).
func TestAccountPreHijackEndsAtMagicLink(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		for _, scanned := range []bool{false, true} {
			t.Run(map[bool]string{false: "link ignored", true: "link followed by a scanner"}[scanned], func(t *testing.T) {
				preHijack(t, store, scanned)
			})
		}
	})
}

func preHijack(t *testing.T, store string, scanned bool) {
	s, box := startAccountServer(t, store)
	const victim = "victim@example.com"
	attackerPass := "attacker horse battery"
	code, _, reg := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "victim", "email": victim, "password": attackerPass})
	if code != 200 || str(reg, "jwt") == "" {
		t.Fatalf("attacker register: %d %v", code, reg)
	}
	if u := reg["user"].(map[string]any); u["confirmed"] != false {
		t.Fatalf("a password sign-up says confirmed: %v", u)
	}
	attackerJWT, attackerRefresh := str(reg, "jwt"), str(reg, "refreshToken")
	if code, _, _ := s.call("GET", "/api/users/me", attackerJWT, nil); code != 200 {
		t.Fatalf("attacker session before: %d", code)
	}
	// The confirmation email reaches the victim; they ignore it, or
	// their mail scanner follows the link.
	ctok := tokenIn(t, box.waitFor(t, victim), confirmPattern, "confirmation")
	if scanned {
		if code, _, out := s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(ctok)); code != 302 {
			t.Fatalf("scanner follows the confirmation link: %d %v", code, out)
		}
	}

	tok := s.requestLink(t, box, victim)
	code, _, login := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
	if code != 200 {
		t.Fatalf("victim magic link: %d %v", code, login)
	}
	if u := login["user"].(map[string]any); u["confirmed"] != true {
		t.Errorf("after the magic link the email is not confirmed: %v", u)
	}
	victimJWT := str(login, "jwt")

	if code, h, _ := s.call("GET", "/api/users/me", attackerJWT, nil); code != 401 || h.Get("X-Session-Terminated-Reason") != "password_changed" {
		t.Errorf("attacker access token after the victim's proof: %d %q", code, h.Get("X-Session-Terminated-Reason"))
	}
	if code, _, out := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": attackerRefresh}); code != 401 {
		t.Errorf("attacker refresh after the victim's proof: %d %v", code, out)
	}
	if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": victim, "password": attackerPass}); code != 400 || errReason(out) != "invalid_credentials" {
		t.Errorf("attacker password after the victim's proof: %d %v", code, out)
	}
	if code, _, me := s.call("GET", "/api/users/me", victimJWT, nil); code != 200 || me["confirmed"] != true {
		t.Errorf("victim session: %d %v", code, me)
	}
	// A second magic link (the email already proven) ends nothing.
	tok = s.requestLink(t, box, victim)
	if code, _, out := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok}); code != 200 {
		t.Fatalf("second magic link: %d %v", code, out)
	}
	if code, _, _ := s.call("GET", "/api/users/me", victimJWT, nil); code != 200 {
		t.Errorf("a later magic link ended the victim's first session: %d", code)
	}
}

// TestEmailConfirmationFlow: with requireEmailConfirmation a sign-up gets
// no session and its password is refused until the emailed link is
// followed; the link redirects once and is then spent.
func TestEmailConfirmationFlow(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		s, box := startAccountServer(t, store)
		write := s.adminToken("write")
		if code, _, out := s.call("PUT", "/api/admin/settings", write, `{"requireEmailConfirmation":true}`); code != 200 {
			t.Fatalf("settings: %d %v", code, out)
		}
		const pass = "correct horse battery"
		code, _, reg := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "bob", "email": "bob@example.com", "password": pass})
		if code != 200 || reg["jwt"] != nil || reg["refreshToken"] != nil {
			t.Fatalf("register with confirmation required: %d %v", code, reg)
		}
		if u, _ := reg["user"].(map[string]any); u == nil || u["confirmed"] != false || str(u, "email") != "bob@example.com" {
			t.Fatalf("register answer: %v", reg)
		}
		login := map[string]any{"identifier": "bob", "password": pass}
		code, _, out := s.call("POST", "/api/auth/local", "", login)
		strapiError(t, "unconfirmed login", code, out, 400, "ApplicationError", "Your account email is not confirmed")
		// A wrong password says nothing about the confirmation.
		if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "bob", "password": "wrong"}); code != 400 || errReason(out) != "invalid_credentials" {
			t.Fatalf("wrong password: %d %v", code, out)
		}
		m := box.waitFor(t, "bob@example.com")
		if !strings.Contains(m.Body, `"bob"`) {
			t.Errorf("the confirmation email does not name the sign-up: %q", m.Body)
		}
		tok := tokenIn(t, m, confirmPattern, "confirmation")
		// Strapi's answers (its email-confirmation API tests).
		code, _, out = s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(tok+"x"))
		strapiError(t, "wrong token", code, out, 400, "ValidationError", "Invalid token")
		code, _, out = s.getNoRedirect("/api/auth/email-confirmation")
		strapiError(t, "no token", code, out, 400, "ValidationError", "confirmation is a required field")
		code, loc, _ := s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(tok))
		if code != 302 || loc != confirmRedirect {
			t.Fatalf("confirmation: %d %q", code, loc)
		}
		if code, _, out := s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(tok)); code != 400 {
			t.Errorf("spent token again: %d %v", code, out)
		}
		code, _, out = s.call("POST", "/api/auth/local", "", login)
		if code != 200 || out["user"].(map[string]any)["confirmed"] != true {
			t.Fatalf("login after confirmation: %d %v", code, out)
		}

		// send-email-confirmation: the same answer for a confirmed, an
		// unknown and an unconfirmed account; only the last gets a mail.
		if code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "carol", "email": "carol@example.com", "password": pass}); code != 200 {
			t.Fatalf("register carol: %d %v", code, out)
		}
		box.waitFor(t, "carol@example.com")
		for _, email := range []string{"bob@example.com", "nobody@example.com", "carol@example.com"} {
			code, _, out := s.call("POST", "/api/auth/send-email-confirmation", "", map[string]any{"email": email})
			if code != 200 || out["email"] != email || out["sent"] != true || len(out) != 2 {
				t.Errorf("send-email-confirmation %s: %d %v", email, code, out)
			}
		}
		tok = tokenIn(t, box.waitFor(t, "carol@example.com"), confirmPattern, "confirmation")
		if code, loc, _ := s.getNoRedirect("/api/auth/email-confirmation?confirmation=" + url.QueryEscape(tok)); code != 302 || loc != confirmRedirect {
			t.Errorf("carol's second link: %d %q", code, loc)
		}
		time.Sleep(300 * time.Millisecond) // any stray mail would have arrived
		for _, to := range []string{"bob@example.com", "nobody@example.com"} {
			if m, ok := box.take(to); ok {
				t.Errorf("a confirmation mail went to %s: %q", to, m.Body)
			}
		}
	})
}

// TestForgotAndResetPassword: the reset code sets a new password, ends
// every session of the account, signs in, and works once.
func TestForgotAndResetPassword(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		s, box := startAccountServer(t, store)
		const old, next = "correct horse battery", "a brand new horse staple"
		if code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "dave", "email": "dave@example.com", "password": old}); code != 200 {
			t.Fatalf("register: %d %v", code, out)
		}
		box.waitFor(t, "dave@example.com") // the confirmation
		_, _, other := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "dave", "password": old})
		otherJWT := str(other, "jwt")

		code, _, out := s.call("POST", "/api/auth/forgot-password", "", map[string]any{"email": "Dave@Example.com"})
		if code != 200 || out["ok"] != true || len(out) != 1 {
			t.Fatalf("forgot-password: %d %v", code, out)
		}
		tok := tokenIn(t, box.waitFor(t, "dave@example.com"), resetPattern, "code")
		code, _, out = s.call("POST", "/api/auth/reset-password", "", map[string]any{"code": tok, "password": next, "passwordConfirmation": next + "x"})
		strapiError(t, "mismatch", code, out, 400, "ValidationError", "Passwords do not match")
		// Strapi 5 (refresh mode) answers {jwt, refreshToken, user} and keeps the deviceId.
		code, _, out = s.call("POST", "/api/auth/reset-password", "", map[string]any{"code": tok, "password": next, "passwordConfirmation": next, "deviceId": "reset-device"})
		if code != 200 || str(out, "jwt") == "" || str(out, "refreshToken") == "" || out["user"].(map[string]any)["confirmed"] != true ||
			out["session"].(map[string]any)["deviceId"] != "reset-device" {
			t.Fatalf("reset: %d %v", code, out)
		}
		newJWT := str(out, "jwt")
		if code, h, _ := s.call("GET", "/api/users/me", otherJWT, nil); code != 401 || h.Get("X-Session-Terminated-Reason") != "password_changed" {
			t.Errorf("a session from before the reset: %d", code)
		}
		if code, _, _ := s.call("GET", "/api/users/me", newJWT, nil); code != 200 {
			t.Errorf("the reset's own session: %d", code)
		}
		if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "dave", "password": old}); code != 400 {
			t.Errorf("old password after reset: %d %v", code, out)
		}
		if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "dave", "password": next}); code != 200 {
			t.Errorf("new password: %d %v", code, out)
		}
		code, _, out = s.call("POST", "/api/auth/reset-password", "", map[string]any{"code": tok, "password": "yet another horse", "passwordConfirmation": "yet another horse"})
		strapiError(t, "spent code", code, out, 400, "ValidationError", "Incorrect code provided")
		// A confirmation token is no reset code.
		if code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "erin", "email": "erin@example.com", "password": old}); code != 200 {
			t.Fatalf("register erin: %d %v", code, out)
		}
		ctok := tokenIn(t, box.waitFor(t, "erin@example.com"), confirmPattern, "confirmation")
		if code, _, out := s.call("POST", "/api/auth/reset-password", "", map[string]any{"code": ctok, "password": next, "passwordConfirmation": next}); code != 400 {
			t.Errorf("confirmation token used as a reset code: %d %v", code, out)
		}
	})
}

// TestAccountMailNoEnumeration: forgot-password and send-email-confirmation
// answer byte for byte the same for an account and for no account, and
// both are limited per email (increment first) the same way.
func TestAccountMailNoEnumeration(t *testing.T) {
	s, box := startAccountServer(t, "sqlite")
	if code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "frank", "email": "frank@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	box.waitFor(t, "frank@example.com")
	post := func(path, email string) (int, string) {
		resp, err := http.Post(s.base+path, "application/json", strings.NewReader(`{"email":"`+email+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/api/auth/forgot-password", "/api/auth/send-email-confirmation"} {
		for i := 1; i <= 6; i++ {
			c1, b1 := post(path, "frank@example.com")
			c2, b2 := post(path, "ghost@example.com")
			b2 = strings.Replace(b2, "ghost@", "frank@", 1) // send-email-confirmation echoes the email
			if c1 != c2 || b1 != b2 {
				t.Fatalf("%s #%d: account %d %s, no account %d %s", path, i, c1, b1, c2, b2)
			}
			want := 200
			if i == 6 {
				want = 429
			}
			if c1 != want {
				t.Fatalf("%s #%d: %d %s (limit 5 per email)", path, i, c1, b1)
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	if m, ok := box.take("ghost@example.com"); ok {
		t.Errorf("mail to an address without an account: %q", m.Body)
	}
}

// TestLookalikeNamesRefused: names that look like an existing one are
// duplicates (409); invisible, bidi and mixed-script names are refused
// (400, field named); admin views flag a raw form that differs.
func TestLookalikeNamesRefused(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		env := map[string]string{}
		if store == "postgres" {
			env = postgresEnv(t)
		}
		s := startServer(t, env)
		reg := func(username, email string) (int, map[string]any) {
			code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": username, "email": email, "password": "correct horse battery"})
			return code, out
		}
		if code, out := reg("alice", "alice@example.com"); code != 200 {
			t.Fatalf("alice: %d %v", code, out)
		}
		for _, c := range []struct{ username, email, field string }{
			{"ＡＬＩＣＥ", "a1@example.com", ""},                // full-width: same key
			{"ALICE", "a2@example.com", ""},                // case
			{"аӏісе", "a3@example.com", ""},                // all Cyrillic look-alikes
			{"alice2", "ａlice@example.com", ""},            // full-width in the email
			{"аlice", "a4@example.com", "username"},        // Cyrillic а mixed with Latin
			{"al\u200bice", "a5@example.com", "username"},  // zero-width space
			{"alice\u202e", "a6@example.com", "username"},  // bidi override
			{"alice3", "\u0430lice@example.com", "email"},  // Cyrillic а in the email
			{"alice4", "al\u200dice@example.com", "email"}, // zero-width joiner in the email
			{"ali\u0441e", "a7@example.com", "username"},   // Cyrillic с
			{"\u03b1lice", "a8@example.com", "username"},   // Greek alpha
			{"alice\u2066x", "a9@example.com", "username"}, // bidi isolate
			{"alice\u00ad", "a10@example.com", "username"}, // soft hyphen
			{"alice\ufeff", "a11@example.com", "username"}, // BOM / zero-width no-break
			{"ａｌｉｃｅ", "a12@example.com", ""},               // full-width lower case
			{"Alice", "ALICE@EXAMPLE.COM", ""},             // both taken
		} {
			code, out := reg(c.username, c.email)
			switch {
			case c.field == "" && code != 409:
				t.Errorf("%q %q: %d %v, want 409 taken", c.username, c.email, code, out)
			case c.field != "" && (code != 400 || fieldsOf(out)[c.field] == nil):
				t.Errorf("%q %q: %d %v, want 400 naming %s", c.username, c.email, code, out, c.field)
			}
		}
		// Signing in with a look-alike finds the one account.
		if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "ＡＬＩＣＥ", "password": "correct horse battery"}); code != 200 {
			t.Errorf("login by the full-width name: %d %v", code, out)
		}
		// A full-width name alone is accepted; admin views show both forms.
		code, out := reg("ｚｏｅ", "zoe@example.com")
		if code != 200 {
			t.Fatalf("full-width zoe: %d %v", code, out)
		}
		id := str(out["user"].(map[string]any), "id")
		_, _, got := s.call("GET", "/api/admin/users/"+id, s.adminToken("read"), nil)
		u, _ := got["data"].(map[string]any)
		if str(u, "username") != "ｚｏｅ" || str(u, "usernameKey") != "zoe" || u["lookalike"] != true {
			t.Errorf("admin view of a full-width name: %v", u)
		}
		if code, out := reg("zoe", "zoe2@example.com"); code != 409 {
			t.Errorf("zoe after ｚｏｅ: %d %v", code, out)
		}
	})
}

// TestNULAndInvalidUTF8Refused: NUL bytes, invalid UTF-8 bytes and lone
// surrogates are a 400 naming the field on both stores, and nothing is
// created (JSON would otherwise turn the bytes into U+FFFD).
func TestNULAndInvalidUTF8Refused(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		env := map[string]string{}
		if store == "postgres" {
			env = postgresEnv(t)
		}
		s := startServer(t, env)
		for _, c := range []struct {
			path, body, field string
		}{
			{"/api/auth/local/register", `{"username":"al\u0000ice","email":"n1@example.com","password":"correct horse battery"}`, "username"},
			{"/api/auth/local/register", "{\"username\":\"al\xffice\",\"email\":\"n2@example.com\",\"password\":\"correct horse battery\"}", "username"},
			{"/api/auth/local/register", `{"username":"alice","email":"n3\ud800@example.com","password":"correct horse battery"}`, "email"},
			{"/api/auth/local/register", "{\"username\":\"alice\",\"email\":\"n4\xc3@example.com\",\"password\":\"correct horse battery\"}", "email"},
			{"/api/auth/local/register", `{"username":"alice","email":"n5@example.com","password":"correct\u0000horse battery"}`, "password"},
			{"/api/auth/local/register", "{\"username\":\"alice\",\"email\":\"n6@example.com\",\"password\":\"correct \xed\xa0\x80 horse battery\"}", "password"},
			{"/api/auth/local", `{"identifier":"al\u0000ice","password":"x"}`, "identifier"},
			{"/api/auth/local", "{\"identifier\":\"al\xffice\",\"password\":\"x\"}", "identifier"},
			{"/api/auth/local", `{"identifier":"alice","password":"x\udfff"}`, "password"},
		} {
			code, out := s.rawCall(c.path, []byte(c.body))
			if code != 400 || fieldsOf(out)[c.field] == nil {
				t.Errorf("%s %q: %d %v, want 400 naming %s", c.path, c.body, code, out, c.field)
			}
		}
		_, _, list := s.call("GET", "/api/admin/users", s.adminToken("read"), nil)
		if users, _ := list["data"].([]any); len(users) != 0 {
			t.Errorf("refused sign-ups created users: %v", users)
		}
		// A real emoji (a surrogate pair) in a password is fine.
		if code, out := s.rawCall("/api/auth/local/register", []byte(`{"username":"smile","email":"ok@example.com","password":"correct horse \ud83d\ude00"}`)); code != 200 {
			t.Errorf("emoji password: %d %v", code, out)
		}
	})
}

// TestGeofencedRegistrationCreatesNoUser: a sign-up from a blocked country
// is refused without creating the account, so the same sign-up from an
// allowed country then succeeds (it used to get 409 "already taken").
func TestGeofencedRegistrationCreatesNoUser(t *testing.T) {
	stores(t, func(t *testing.T, store string) {
		dir := t.TempDir()
		city := geotest.WriteDB(t, dir, "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
			"81.2.69.0/24": geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
			"5.9.0.0/16":   geotest.CityRec("DE", "Germany", "Saxony", "Falkenstein", 50.4779, 12.3713, "Europe/Berlin"),
		})
		env := map[string]string{}
		if store == "postgres" {
			env = postgresEnv(t)
		}
		env["SM_GEOIP_DB"], env["SM_TRUSTED_PROXIES"] = city, "127.0.0.1"
		env["LICENSE_KEY"] = testLicense(t, license.EditionAdvanced)
		s := startServer(t, env)
		write := s.adminToken("write")
		if code, _, out := s.call("PUT", "/api/admin/settings", write, `{"blockedCountries":["DE"]}`); code != 200 {
			t.Fatalf("geo-fence: %d %v", code, out)
		}
		signup := map[string]any{"username": "hans", "email": "hans@example.com", "password": "correct horse battery"}
		if code, out := s.callFrom("5.9.10.11", "POST", "/api/auth/local/register", "", signup); code != 403 || errReason(out) != "geofence" {
			t.Fatalf("sign-up from a blocked country: %d %v", code, out)
		}
		_, _, list := s.call("GET", "/api/admin/users", write, nil)
		if users, _ := list["data"].([]any); len(users) != 0 {
			t.Fatalf("the refused sign-up created a user: %v", users)
		}
		_, _, audit := s.call("GET", "/api/admin/audit?type=login.blocked", write, nil)
		if events, _ := audit["data"].([]any); len(events) != 1 || events[0].(map[string]any)["country"] != "DE" {
			t.Errorf("the refused sign-up is not in the audit log: %v", audit)
		}
		code, out := s.callFrom("81.2.69.160", "POST", "/api/auth/local/register", "", signup)
		if code != 200 || str(out, "jwt") == "" {
			t.Fatalf("the same sign-up from an allowed country: %d %v", code, out)
		}
	})
}

// TestAccountEmailsUnconfigured: without the account emails configured the
// setting that would need them is refused (naming it) and the requests
// that would send them answer 503, never a silent "sent".
func TestAccountEmailsUnconfigured(t *testing.T) {
	s := startServer(t, nil)
	code, _, out := s.call("PUT", "/api/admin/settings", s.adminToken("write"), `{"requireEmailConfirmation":true}`)
	if code != 400 || fieldsOf(out)["requireEmailConfirmation"] == nil {
		t.Errorf("requireEmailConfirmation without the email: %d %v", code, out)
	}
	for _, path := range []string{"/api/auth/forgot-password", "/api/auth/send-email-confirmation"} {
		if code, _, out := s.call("POST", path, "", map[string]any{"email": "ada@example.com"}); code != 503 || errReason(out) != "not_configured" {
			t.Errorf("%s unconfigured: %d %v", path, code, out)
		}
	}
}
