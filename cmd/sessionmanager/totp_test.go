//go:build licensetest

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// The end users' TOTP is checked against an independent implementation:
// github.com/pquerna/otp reads the otpauth:// URI the server hands out and
// computes the codes an authenticator app would show.

// appCode is the code an authenticator app shows for key at t.
func appCode(t *testing.T, key *otp.Key, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(key.Secret(), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongCode is a six-digit code that is not code.
func wrongCode(code string) string {
	var n int
	fmt.Sscanf(code, "%d", &n)
	return fmt.Sprintf("%06d", (n+500000)%1000000)
}

// authClaims are the proof claims of an access token.
type authClaims struct {
	Sid      string   `json:"sid"`
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
}

func claimsOfJWT(t *testing.T, jwt string) authClaims {
	t.Helper()
	var c authClaims
	jwtPart(t, jwt, 1, &c)
	return c
}

// enrolTOTP enrols TOTP for the holder of jwt at the server's now and
// returns the app's key and the recovery codes.
func (s *server) enrolTOTP(t *testing.T, jwt string, now time.Time) (*otp.Key, []string) {
	t.Helper()
	code, _, begin := s.call("POST", "/api/users/me/totp", jwt, nil)
	if code != 201 {
		t.Fatalf("begin TOTP: %d %v", code, begin)
	}
	key, err := otp.NewKeyFromURL(str(begin, "otpauthUri"))
	if err != nil {
		t.Fatalf("otpauth URI %q: %v", str(begin, "otpauthUri"), err)
	}
	if key.Secret() != str(begin, "secret") || key.Issuer() != "Magic Session Manager" || key.Type() != "totp" {
		t.Fatalf("URI %q does not match the secret %q", key.String(), str(begin, "secret"))
	}
	code, _, confirm := s.call("POST", "/api/users/me/totp/confirm", jwt, map[string]any{"code": appCode(t, key, now)})
	if code != 200 {
		t.Fatalf("confirm TOTP: %d %v", code, confirm)
	}
	raw, _ := confirm["recoveryCodes"].([]any)
	var codes []string
	for _, c := range raw {
		codes = append(codes, c.(string))
	}
	return key, codes
}

// verifyWith asks forward auth with query q; it returns the status and the
// WWW-Authenticate header.
func (s *server) verifyWith(t *testing.T, jwt, q string) (int, string) {
	t.Helper()
	code, h, _ := s.call("GET", "/api/auth/verify"+q, jwt, nil)
	return code, h.Get("WWW-Authenticate")
}

// TestUserTOTPEnrolStepUpAndRemove drives the whole self-service life of a
// TOTP on the real binary, on a manual clock (codes change every 30 s).
func TestUserTOTPEnrolStepUpAndRemove(t *testing.T) {
	d := manualClock()
	s := startServerOn(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)}, d)
	reg := s.register(t, "tina")
	jwt := str(reg, "jwt")
	other := s.login(t, "tina")

	code, _, f := s.call("GET", "/api/users/me/factors", jwt, nil)
	if data, _ := f["data"].(map[string]any); code != 200 || data["totp"] != false || data["recoveryCodesLeft"] != 0.0 {
		t.Fatalf("factors before: %d %v", code, f)
	}
	if c := claimsOfJWT(t, jwt); c.ACR != "1" || c.AuthTime == 0 {
		t.Fatalf("a password login is acr 1 with an auth_time: %+v", c)
	}

	// Enrol: the first code is checked (a wrong one refused), the other
	// session ends, ten distinct recovery codes are shown once.
	code, _, begin := s.call("POST", "/api/users/me/totp", jwt, nil)
	if code != 201 {
		t.Fatalf("begin: %d %v", code, begin)
	}
	key, err := otp.NewKeyFromURL(str(begin, "otpauthUri"))
	if err != nil || !strings.Contains(key.AccountName(), "tina@example.com") {
		t.Fatalf("otpauth URI %q: %v", str(begin, "otpauthUri"), err)
	}
	now := d.clock.Now()
	good := appCode(t, key, now)
	if code, _, body := s.call("POST", "/api/users/me/totp/confirm", jwt, map[string]any{"code": wrongCode(good)}); code != 400 || errReason(body) != "invalid_code" {
		t.Fatalf("wrong first code: %d %v", code, body)
	}
	code, _, confirm := s.call("POST", "/api/users/me/totp/confirm", jwt, map[string]any{"code": good})
	if code != 200 {
		t.Fatalf("confirm: %d %v", code, confirm)
	}
	recovery, _ := confirm["recoveryCodes"].([]any)
	seen := map[any]bool{}
	for _, c := range recovery {
		seen[c] = true
	}
	if len(recovery) != 10 || len(seen) != 10 {
		t.Fatalf("recovery codes: %v", confirm["recoveryCodes"])
	}
	if code, h, _ := s.call("GET", "/api/users/me", other, nil); code != 401 || h.Get("X-Session-Terminated-Reason") != "factor_changed" {
		t.Fatalf("the other session after an enrolment: %d %q", code, h.Get("X-Session-Terminated-Reason"))
	}
	if code, _, _ := s.call("GET", "/api/users/me", jwt, nil); code != 200 {
		t.Fatalf("the enrolling session goes on: %d", code)
	}
	code, _, f = s.call("GET", "/api/users/me/factors", jwt, nil)
	if data, _ := f["data"].(map[string]any); code != 200 || data["totp"] != true || data["recoveryCodesLeft"] != 10.0 {
		t.Fatalf("factors after: %d %v", code, f)
	}

	// Forward auth with a route requirement: the password token is acr 1.
	if code, www := s.verifyWith(t, jwt, "?max_age=300&acr_values=2"); code != 401 ||
		!strings.Contains(www, `error="insufficient_user_authentication"`) || !strings.Contains(www, `acr_values="2"`) || !strings.Contains(www, "max_age=300") {
		t.Fatalf("verify acr 2 with a password token: %d %q", code, www)
	}
	if code, _ := s.verifyWith(t, jwt, "?max_age=300"); code != 200 {
		t.Fatalf("verify max_age only, fresh login: %d", code)
	}
	for _, q := range []string{"?max_age=abc", "?max_age=-5", "?acr_values=gold"} {
		if code, _ := s.verifyWith(t, jwt, q); code != 400 {
			t.Fatalf("verify %s: %d, want 400", q, code)
		}
	}

	// Step-up: the code just used to confirm is spent; the next step's
	// code passes and raises the session to acr 2.
	if code, _, body := s.call("POST", "/api/auth/step-up", jwt, map[string]any{"method": "totp", "code": good}); code != 400 || errReason(body) != "invalid_code" {
		t.Fatalf("replayed TOTP code: %d %v", code, body)
	}
	d.clock.Advance(30 * time.Second)
	code, _, up := s.call("POST", "/api/auth/step-up", jwt, map[string]any{"method": "totp", "code": appCode(t, key, d.clock.Now())})
	if code != 200 || str(up, "acr") != "2" {
		t.Fatalf("step-up with TOTP: %d %v", code, up)
	}
	stepped := str(up, "jwt")
	c := claimsOfJWT(t, stepped)
	if c.ACR != "2" || !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "mfa") || c.AuthTime != d.clock.Now().Unix() || c.Sid != claimsOfJWT(t, jwt).Sid {
		t.Fatalf("stepped-up claims: %+v", c)
	}
	if code, www := s.verifyWith(t, stepped, "?max_age=300&acr_values=2"); code != 200 {
		t.Fatalf("verify the stepped-up token: %d %q", code, www)
	}
	// The refresh token now carries the raised proof too.
	code, _, ref := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(reg, "refreshToken")})
	if code != 200 || claimsOfJWT(t, str(ref, "jwt")).ACR != "2" {
		t.Fatalf("refresh after step-up: %d %v", code, ref)
	}
	fresh := str(ref, "jwt")

	// Recovery codes: each works once, for this user only.
	d.clock.Advance(301 * time.Second)
	if code, www := s.verifyWith(t, fresh, "?max_age=300&acr_values=2"); code != 401 || !strings.Contains(www, "max_age=300") {
		t.Fatalf("verify after max_age passed: %d %q", code, www)
	}
	rc := recovery[0].(string)
	if code, _, body := s.call("POST", "/api/auth/step-up", fresh, map[string]any{"method": "recovery_code", "code": strings.ToUpper(rc)}); code != 200 || str(body, "acr") != "2" {
		t.Fatalf("step-up with a recovery code: %d %v", code, body)
	}
	if code, _, body := s.call("POST", "/api/auth/step-up", fresh, map[string]any{"method": "recovery_code", "code": rc}); code != 400 || errReason(body) != "invalid_code" {
		t.Fatalf("recovery code used twice: %d %v", code, body)
	}
	mallory := str(s.register(t, "mallory"), "jwt")
	if code, _, body := s.call("POST", "/api/auth/step-up", mallory, map[string]any{"method": "recovery_code", "code": recovery[1].(string)}); code != 400 || errReason(body) != "method_not_offered" {
		t.Fatalf("another user's recovery code: %d %v", code, body)
	}
	for _, bad := range []map[string]any{{"method": "totp"}, {"method": "sms", "code": "123456"}, {"code": "123456"}, {"method": "totp", "code": strings.Repeat("9", 100)}} {
		if code, _, body := s.call("POST", "/api/auth/step-up", fresh, bad); code != 400 {
			t.Fatalf("step-up %v: %d %v", bad, code, body)
		}
	}
	code, _, f = s.call("GET", "/api/users/me/factors", fresh, nil)
	if data, _ := f["data"].(map[string]any); code != 200 || data["recoveryCodesLeft"] != 9.0 {
		t.Fatalf("one recovery code spent: %v", f)
	}

	// Removing needs a proof of the session at most 10 minutes old (the
	// store's record, whatever token asks): 11 minutes on, a refreshed
	// token is refused with RFC 9470's challenge.
	d.clock.Advance(11 * time.Minute)
	code, _, ref = s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(ref, "refreshToken")})
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, ref)
	}
	current := str(ref, "jwt")
	code, h, body := s.call("DELETE", "/api/users/me/totp", current, nil)
	if www := h.Get("WWW-Authenticate"); code != 401 || errReason(body) != "step_up_required" ||
		!strings.Contains(www, "insufficient_user_authentication") || !strings.Contains(www, `acr_values="2"`) || !strings.Contains(www, "max_age=600") {
		t.Fatalf("remove with a stale proof: %d %v %q", code, body, www)
	}
	code, _, up = s.call("POST", "/api/auth/step-up", current, map[string]any{"method": "totp", "code": appCode(t, key, d.clock.Now())})
	if code != 200 {
		t.Fatalf("step-up before removal: %d %v", code, up)
	}
	if code, _, body := s.call("POST", "/api/users/me/recovery-codes", str(up, "jwt"), nil); code != 201 || len(body["recoveryCodes"].([]any)) != 10 {
		t.Fatalf("regenerate: %d %v", code, body)
	}
	if code, _, body := s.call("DELETE", "/api/users/me/totp", str(up, "jwt"), nil); code != 200 {
		t.Fatalf("remove: %d %v", code, body)
	}
	code, _, f = s.call("GET", "/api/users/me/factors", str(up, "jwt"), nil)
	if data, _ := f["data"].(map[string]any); code != 200 || data["totp"] != false || data["recoveryCodesLeft"] != 0.0 {
		t.Fatalf("factors after removal: %v", f)
	}
	if code, _, body := s.call("DELETE", "/api/users/me/totp", str(up, "jwt"), nil); code != 404 {
		t.Fatalf("remove twice: %d %v", code, body)
	}
	if code, _, body := s.call("POST", "/api/auth/step-up", str(up, "jwt"), map[string]any{"method": "totp", "code": "123456"}); code != 400 || errReason(body) != "method_not_offered" {
		t.Fatalf("step-up without TOTP: %d %v", code, body)
	}
	// Enrolling needs a recent login too.
	d.clock.Advance(11 * time.Minute)
	if code, _, body := s.call("POST", "/api/users/me/totp", str(up, "jwt"), nil); code != 401 || errReason(body) != "step_up_required" {
		t.Fatalf("enrol with an 11-minute-old proof: %d %v", code, body)
	}
}

// TestUserTOTPReplayRefusedOnAnotherInstance: one code sent at once to two
// instances that share PostgreSQL and Redis steps up exactly once, and is
// refused afterwards on both.
func TestUserTOTPReplayRefusedOnAnotherInstance(t *testing.T) {
	db := testenv.PostgresSchema(t)
	env := func() map[string]string {
		return map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": encKey, "SM_REDIS_PREFIX": redisPrefix, "REDIS_URL": testenv.RedisURL(t),
			"SM_LOG_LEVEL": "warn", "LICENSE_KEY": testLicense(t, license.EditionAdvanced)}
	}
	a, b := startServer(t, env()), startServer(t, env())
	jwt := str(a.register(t, "ursula"), "jwt")
	key, _ := a.enrolTOTP(t, jwt, time.Now())
	jwtB := b.login(t, "ursula")
	// The next step's code (inside the accepted window), sent in parallel
	// to both instances: exactly one request gets a step-up.
	next := appCode(t, key, time.Now().Add(30*time.Second))
	const racers = 8
	codes := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			srv, tok := a, jwt
			if i%2 == 1 {
				srv, tok = b, jwtB
			}
			codes[i], _, _ = srv.call("POST", "/api/auth/step-up", tok, map[string]any{"method": "totp", "code": next})
		})
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case 200:
			wins++
		case 400, 429: // the spent code, or the account slowed by the failures
		default:
			t.Fatalf("parallel step-ups: %v", codes)
		}
	}
	if wins != 1 {
		t.Fatalf("one code, %d step-ups across instances: %v", wins, codes)
	}
	// ...and never again, on either instance.
	for _, srv := range []*server{a, b} {
		tok := jwt
		if srv == b {
			tok = jwtB
		}
		if code, _, body := srv.call("POST", "/api/auth/step-up", tok, map[string]any{"method": "totp", "code": next}); code != 400 && code != 429 {
			t.Fatalf("replay on %s: %d %v", srv.base, code, body)
		}
	}
}

var (
	encKey      = token.GenerateKey()
	redisPrefix = testenv.Name("msmtotp:") + ":"
)

// TestStepUpThroughProxies: the documented nginx and Caddy configurations
// pass a route's requirement (max_age, acr_values) to forward auth and hand
// the client RFC 9470's WWW-Authenticate challenge.
func TestStepUpThroughProxies(t *testing.T) {
	for _, p := range []struct {
		name  string
		start func(t *testing.T, sessionmanager, upstream string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(p.name, func(t *testing.T) {
			s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello %s", r.Header.Get("X-User-Id"))
			}))
			defer upstream.Close()
			proxy := p.start(t, s.base, upstream.URL)
			jwt := str(s.register(t, "victor"), "jwt")
			get := func(path, bearer string) (int, http.Header) {
				t.Helper()
				req, _ := http.NewRequest("GET", proxy+path, nil)
				req.Header.Set("Authorization", "Bearer "+bearer)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode, resp.Header
			}
			if code, _ := get("/private/page", jwt); code != 200 {
				t.Fatalf("ordinary route: %d", code)
			}
			code, h := get("/sensitive/page", jwt)
			if www := h.Get("WWW-Authenticate"); code != 401 || !strings.Contains(www, `error="insufficient_user_authentication"`) ||
				!strings.Contains(www, `acr_values="2"`) || !strings.Contains(www, "max_age=300") {
				t.Fatalf("sensitive route with a password token: %d %q", code, www)
			}
			key, _ := s.enrolTOTP(t, jwt, time.Now())
			code, _, up := s.call("POST", "/api/auth/step-up", jwt, map[string]any{"method": "totp", "code": appCode(t, key, time.Now().Add(30*time.Second))})
			if code != 200 {
				t.Fatalf("step-up: %d %v", code, up)
			}
			if code, _ := get("/sensitive/page", str(up, "jwt")); code != 200 {
				t.Fatalf("sensitive route after step-up: %d", code)
			}
		})
	}
}

// TestTOTPEnrolmentIsLicensed: without the Advanced edition enrolling and
// stepping up answer 403 feature_locked; listing factors still works.
func TestTOTPEnrolmentIsLicensed(t *testing.T) {
	s := startServer(t, nil)
	jwt := str(s.register(t, "wendy"), "jwt")
	for _, c := range []struct {
		method, path string
		body         any
	}{{"POST", "/api/users/me/totp", nil}, {"POST", "/api/auth/step-up", map[string]any{"method": "totp", "code": "123456"}}} {
		if code, _, body := s.call(c.method, c.path, jwt, c.body); code != 403 || errReason(body) != "feature_locked" {
			t.Fatalf("%s %s on the free edition: %d %v", c.method, c.path, code, body)
		}
	}
	if code, _, body := s.call("GET", "/api/users/me/factors", jwt, nil); code != 200 {
		t.Fatalf("factors on the free edition: %d %v", code, body)
	}
}

// TestChallengeAnsweredWithTOTPAndRecoveryCode: a user with TOTP is offered
// totp before email when a VPN login is challenged; a code of the app
// finishes the login with the normal answer (acr 2), a recovery code
// answers where totp is offered, once.
func TestChallengeAnsweredWithTOTPAndRecoveryCode(t *testing.T) {
	s, _, _ := challengeServer(t, "sqlite")
	code, _, home := s.callAs(homeIP, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": "vera", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("login from home: %d %v", code, home)
	}
	key, recovery := s.enrolTOTP(t, str(home, "jwt"), time.Now())
	challenge := func() string {
		t.Helper()
		code, _, body := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": "vera", "password": "correct horse battery"})
		e, _ := body["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		ch, _ := d["challenge"].(map[string]any)
		if code != 401 || !slices.Equal(strs(ch["methods"]), []string{"totp", "email"}) {
			t.Fatalf("VPN login of a TOTP user: %d %v", code, body)
		}
		return str(ch, "id")
	}
	answer := func(id, method, code string) (int, map[string]any) {
		c, _, body := s.callAs(vpnIP, challengeUA, "POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": id, "method": method, "code": code})
		return c, body
	}

	id := challenge()
	next := appCode(t, key, time.Now().Add(30*time.Second))
	if code, body := answer(id, "totp", wrongCode(next)); code != 400 || errReason(body) != "invalid_code" {
		t.Fatalf("wrong TOTP code: %d %v", code, body)
	}
	code, body := answer(id, "totp", next)
	if code != 200 || str(body, "jwt") == "" || str(body, "refreshToken") == "" {
		t.Fatalf("TOTP answer: %d %v", code, body)
	}
	if c := claimsOfJWT(t, str(body, "jwt")); c.ACR != "2" || !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "pwd") {
		t.Fatalf("claims after a TOTP challenge: %+v", c)
	}
	// The same code in a new challenge: spent.
	if code, body := answer(challenge(), "totp", next); code != 400 || errReason(body) != "invalid_code" {
		t.Fatalf("TOTP code replayed in another challenge: %d %v", code, body)
	}

	id = challenge()
	if code, body := answer(id, "recovery_code", recovery[2]); code != 200 || claimsOfJWT(t, str(body, "jwt")).ACR != "2" {
		t.Fatalf("recovery code answer: %d %v", code, body)
	}
	if code, body := answer(challenge(), "recovery_code", recovery[2]); code != 400 || errReason(body) != "invalid_code" {
		t.Fatalf("recovery code used twice: %d %v", code, body)
	}
}

// TestStepUpByEmailCode: a step-up by a factor that needs a step first runs
// through a challenge bound to the session: started at /api/auth/step-up,
// the code sent by the real SMTP server, finished at /api/auth/step-up by
// that session only (never at the login's /challenge/verify), once.
func TestStepUpByEmailCode(t *testing.T) {
	s, box, email := challengeServer(t, "sqlite")
	code, _, home := s.callAs(homeIP, challengeUA, "POST", "/api/auth/local", "", map[string]any{"identifier": "vera", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, home)
	}
	jwt := str(home, "jwt")
	code, _, begin := s.callAs(homeIP, challengeUA, "POST", "/api/auth/step-up", jwt, map[string]any{})
	ch, _ := begin["challenge"].(map[string]any)
	if code != 201 || !slices.Equal(strs(ch["methods"]), []string{"email"}) || str(ch, "id") == "" {
		t.Fatalf("begin step-up: %d %v", code, begin)
	}
	id := str(ch, "id")
	if code, _, body := s.callAs(homeIP, challengeUA, "POST", "/api/auth/challenge/send", "", map[string]any{"challengeId": id, "method": "email"}); code != 200 {
		t.Fatalf("send: %d %v", code, body)
	}
	m := codePattern.FindStringSubmatch(box.waitFor(t, email).Body)
	if m == nil {
		t.Fatal("no code in the email")
	}
	// A step-up challenge opens no session at the login's route...
	if code, _, body := s.callAs(homeIP, challengeUA, "POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": id, "method": "email", "code": m[1]}); code != 400 || errReason(body) != "challenge_unknown" {
		t.Fatalf("step-up challenge at /challenge/verify: %d %v", code, body)
	}
	// ...and is no one else's to answer.
	mallory := str(s.register(t, "mallory"), "jwt")
	if code, _, body := s.callAs(homeIP, challengeUA, "POST", "/api/auth/step-up", mallory, map[string]any{"challengeId": id, "method": "email", "code": m[1]}); code != 400 || errReason(body) != "challenge_unknown" {
		t.Fatalf("another session answers the step-up: %d %v", code, body)
	}
	code, _, up := s.callAs(homeIP, challengeUA, "POST", "/api/auth/step-up", jwt, map[string]any{"challengeId": id, "method": "email", "code": m[1]})
	if code != 200 || str(up, "acr") != "2" {
		t.Fatalf("step-up by email code: %d %v", code, up)
	}
	if c := claimsOfJWT(t, str(up, "jwt")); !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "pwd") || c.Sid != claimsOfJWT(t, jwt).Sid {
		t.Fatalf("claims: %+v", c)
	}
	if code, _, body := s.callAs(homeIP, challengeUA, "POST", "/api/auth/step-up", jwt, map[string]any{"challengeId": id, "method": "email", "code": m[1]}); code != 400 || errReason(body) != "challenge_used" {
		t.Fatalf("step-up challenge answered twice: %d %v", code, body)
	}
	// Starting challenges is capped per session (each writes a row).
	for i := 1; ; i++ {
		code, _, body := s.callAs(homeIP, challengeUA, "POST", "/api/auth/step-up", jwt, map[string]any{})
		if code == 429 && errReason(body) == "too_many_step_ups" {
			if i != 10 {
				t.Fatalf("cap after %d more starts, want 10 in all", i)
			}
			break
		}
		if code != 201 || i > 10 {
			t.Fatalf("start %d: %d %v", i, code, body)
		}
	}
}

// TestTOTPBadInput: what a client may send wrong gets a clear 4xx naming
// the problem, never a 500, and changes nothing.
func TestTOTPBadInput(t *testing.T) {
	s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	jwt := str(s.register(t, "xena"), "jwt")
	for _, c := range []struct {
		method, path string
		bearer       string
		body         any
		status       int
		reason       string
	}{
		{"POST", "/api/users/me/totp/confirm", jwt, map[string]any{}, 400, ""},
		{"POST", "/api/users/me/totp/confirm", jwt, `{"code": 123456}`, 400, ""},
		{"POST", "/api/users/me/totp/confirm", jwt, `not json`, 400, ""},
		{"POST", "/api/users/me/totp/confirm", jwt, map[string]any{"code": "12\x0034"}, 400, ""},
		{"POST", "/api/users/me/totp/confirm", jwt, map[string]any{"code": "123456"}, 400, "totp_not_pending"},
		{"POST", "/api/users/me/totp/confirm", "", map[string]any{"code": "123456"}, 401, ""},
		{"POST", "/api/users/me/totp", "not-a-token", nil, 401, ""},
		{"POST", "/api/users/me/recovery-codes", jwt, nil, 400, "totp_not_enabled"},
		{"DELETE", "/api/users/me/totp", jwt, nil, 404, ""},
		{"POST", "/api/auth/step-up", jwt, map[string]any{}, 400, "no_factor"},
		{"POST", "/api/auth/step-up", jwt, map[string]any{"challengeId": "made-up", "method": "email", "code": "123456"}, 400, "challenge_unknown"},
		{"POST", "/api/auth/step-up", jwt, map[string]any{"method": "recovery_code", "code": "abcde-fghij"}, 400, "method_not_offered"},
		{"GET", "/api/auth/verify?max_age=1e9", jwt, nil, 400, ""},
	} {
		code, _, body := s.call(c.method, c.path, c.bearer, c.body)
		if code != c.status || (c.reason != "" && errReason(body) != c.reason) {
			t.Errorf("%s %s %v: %d %v, want %d %s", c.method, c.path, c.body, code, body, c.status, c.reason)
		}
	}
	code, _, f := s.call("GET", "/api/users/me/factors", jwt, nil)
	if data, _ := f["data"].(map[string]any); code != 200 || data["totp"] != false || data["recoveryCodesLeft"] != 0.0 {
		t.Fatalf("factors after bad input: %d %v", code, f)
	}
}
