package main

import (
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/go-jose/go-jose/v4"
)

// mailbox is a real go-smtp server on 127.0.0.1 that keeps what it receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []receivedMail
	got  chan struct{}
	// hold, when set, keeps each message's DATA open until it is closed;
	// held hears when one waits.
	hold, held chan struct{}
}

// receivedMail is one accepted message, its body decoded.
type receivedMail struct {
	To   []string
	Body string
}

type mailSession struct {
	box *mailbox
	to  []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	hold, held := s.box.hold, s.box.held
	s.box.mu.Unlock()
	if hold != nil {
		held <- struct{}{}
		<-hold
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, receivedMail{To: s.to, Body: string(b)})
	s.box.mu.Unlock()
	select {
	case s.box.got <- struct{}{}:
	default:
	}
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	box := &mailbox{got: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: box}, nil }))
	srv.Domain = "localhost"
	srv.Addr = freePort(t)
	box.addr = srv.Addr
	ready := make(chan error, 1)
	go func() { ready <- srv.ListenAndServe() }()
	t.Cleanup(func() { _ = srv.Close() })
	// Wait until it accepts connections.
	for i := 0; ; i++ {
		c, err := smtp.Dial(srv.Addr)
		if err == nil {
			_ = c.Quit()
			break
		}
		if i > 200 {
			t.Fatalf("smtp server: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return box
}

// waitFor returns the first mail to the address, waiting up to 15s.
func (b *mailbox) waitFor(t *testing.T, to string) receivedMail {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if m, ok := b.take(to); ok {
			return m
		}
		select {
		case <-b.got:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no mail to %s", to)
		}
	}
}

// take removes and returns the first mail to the address.
func (b *mailbox) take(to string) (receivedMail, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range b.msgs {
		for _, r := range m.To {
			if strings.EqualFold(r, to) {
				b.msgs = append(b.msgs[:i], b.msgs[i+1:]...)
				return m, true
			}
		}
	}
	return receivedMail{}, false
}

const magicLinkBase = "http://app.example.test/auth/magic?token="

var linkPattern = regexp.MustCompile(`http://app\.example\.test/auth/magic\?token=\S+`)

// linkOf extracts the sign-in link and its token from a mail.
func linkOf(t *testing.T, m receivedMail) (*url.URL, string) {
	t.Helper()
	raw := linkPattern.FindString(m.Body)
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		t.Fatalf("no sign-in link in %q", m.Body)
	}
	tok := u.Query().Get("token")
	if len(tok) < 40 {
		t.Fatalf("token %q is too short for 256 bits", tok)
	}
	return u, tok
}

func startMagicServer(t *testing.T, env map[string]string) (*server, *mailbox) {
	return startMagicServerOn(t, env, nil)
}

// startMagicServerOn is startMagicServer on the manual clock of d.
func startMagicServerOn(t *testing.T, env map[string]string, d *clockDriver) (*server, *mailbox) {
	box := startMailbox(t)
	if env == nil {
		env = map[string]string{}
	}
	env["SM_MAGIC_LINK_URL"] = magicLinkBase
	env["SMTP_URL"] = "smtp://" + box.addr + "?tls=none"
	env["SM_ALERT_FROM"] = "Sign-in <signin@example.test>"
	return startServerOn(t, env, d), box
}

func (s *server) register(t *testing.T, name string) map[string]any {
	t.Helper()
	code, _, reg := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": name, "email": name + "@example.com", "password": "correct horse battery"})
	if code != 200 {
		t.Fatalf("register %s: %d %v", name, code, reg)
	}
	return reg
}

// requestLink asks for a link and returns its token from the mail.
func (s *server) requestLink(t *testing.T, box *mailbox, email string) string {
	t.Helper()
	if code, _, body := s.call("POST", "/api/auth/magic-link", "", map[string]any{"email": email}); code != 202 {
		t.Fatalf("magic-link: %d %v", code, body)
	}
	_, tok := linkOf(t, box.waitFor(t, email))
	return tok
}

func TestMagicLinkEndToEnd(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			env := map[string]string{"SM_MAGIC_LINK_PER_IP": "1000"}
			if store == "postgres" {
				env = postgresEnv(t)
				env["SM_MAGIC_LINK_PER_IP"] = "1000"
			}
			s, box := startMagicServer(t, env)
			s.register(t, "alice")
			write := s.adminToken("write")

			tok := s.requestLink(t, box, "alice@example.com")
			code, _, login := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
			if code != 200 || str(login, "jwt") == "" || str(login, "refreshToken") == "" {
				t.Fatalf("verify: %d %v", code, login)
			}
			user, _ := login["user"].(map[string]any)
			sess, _ := login["session"].(map[string]any)
			if str(user, "email") != "alice@example.com" || str(sess, "id") == "" {
				t.Fatalf("login shape: %v", login)
			}
			sid := str(sess, "id")
			code, _, got := s.call("GET", "/api/admin/sessions/"+sid, write, nil)
			data, _ := got["data"].(map[string]any)
			if code != 200 || str(data, "authMethod") != "magic_link" || str(data, "ip") != "127.0.0.1" {
				t.Fatalf("session record: %d %v", code, got)
			}
			if code, _, body := s.call("GET", "/api/users/me", str(login, "jwt"), nil); code != 200 || str(body, "email") != "alice@example.com" {
				t.Fatalf("me: %d %v", code, body)
			}
			verifyWithGoJose(t, s, str(login, "jwt"))

			// A link works once.
			code, _, body := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
			if code != 400 || errReason(body) != "link_used" {
				t.Fatalf("reused link: %d %v", code, body)
			}
			if code, _, body := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": "forged-token-forged-token-forged-token-xx"}); code != 400 || errReason(body) != "link_unknown" {
				t.Fatalf("unknown link: %d %v", code, body)
			}

			// Force logout ends it like any other session.
			if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
				t.Fatalf("terminate: %d %v", code, body)
			}
			if code, h, _ := s.call("POST", "/api/auth/refresh", "", map[string]any{"refreshToken": str(login, "refreshToken")}); code != 401 || h.Get("X-Session-Terminated-Reason") != "manual" {
				t.Fatalf("refresh after force logout: %d", code)
			}
			if code, _, _ := s.call("GET", "/api/users/me", str(login, "jwt"), nil); code != 401 {
				t.Fatalf("access after force logout: %d", code)
			}

			// A double click: two concurrent verifies, exactly one session.
			tok = s.requestLink(t, box, "alice@example.com")
			codes := make(chan int, 2)
			for range 2 {
				go func() {
					c, _, _ := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
					codes <- c
				}()
			}
			a, b := <-codes, <-codes
			if !(a == 200 && b == 400) && !(a == 400 && b == 200) {
				t.Fatalf("double click: %d and %d, want one 200 and one 400", a, b)
			}
			uid := str(user, "id")
			code, _, list := s.call("GET", "/api/admin/users/"+uid+"/sessions?status=active", write, nil)
			all, _ := list["data"].([]any)
			magic := 0
			for _, x := range all {
				if str(x.(map[string]any), "authMethod") == "magic_link" {
					magic++
				}
			}
			if code != 200 || magic != 1 {
				t.Fatalf("live magic-link sessions after a double click: %d %d, want 1", code, magic)
			}

			// An unknown email gets the same 202 and no mail.
			if code, _, body := s.call("POST", "/api/auth/magic-link", "", map[string]any{"email": "nobody@example.com"}); code != 202 {
				t.Fatalf("unknown email: %d %v", code, body)
			}
			s.requestLink(t, box, "alice@example.com")
			if _, ok := box.take("nobody@example.com"); ok {
				t.Fatal("a link was mailed to an address without an account")
			}
		})
	}
}

func TestMagicLinkRedirectAndRateLimit(t *testing.T) {
	s, box := startMagicServer(t, map[string]string{"SM_MAGIC_LINK_PER_EMAIL": "3"})
	s.register(t, "bob")
	for _, evil := range []string{"https://evil.example/", "//evil.example/x", "http://app.example.test.evil.example/", "javascript:alert(1)"} {
		code, _, body := s.call("POST", "/api/auth/magic-link", "", map[string]any{"email": "bob@example.com", "redirect": evil})
		if code != 400 || errReason(body) != "redirect_not_allowed" {
			t.Errorf("redirect %q: %d %v", evil, code, body)
		}
	}
	if code, _, body := s.call("POST", "/api/auth/magic-link", "", map[string]any{"email": "bob@example.com", "next": "/dashboard?tab=1"}); code != 202 {
		t.Fatalf("same-origin redirect: %d %v", code, body)
	}
	u, _ := linkOf(t, box.waitFor(t, "bob@example.com"))
	if got := u.Query().Get("redirect"); got != "http://app.example.test/dashboard?tab=1" {
		t.Errorf("redirect in link: %q", got)
	}
	if code, _, body := s.call("POST", "/api/auth/magic-link", "", map[string]any{"email": "not an email"}); code != 400 || fieldsOf(body)["email"] == nil {
		t.Errorf("bad email: %d %v", code, body)
	}
	// Per-email limit: the same for existing and unknown addresses.
	for _, email := range []string{"bob@example.com", "ghost@example.com"} {
		var last int
		var retry string
		for i := 0; i < 4; i++ {
			req, _ := http.NewRequest("POST", s.base+"/api/auth/magic-link", strings.NewReader(`{"email":"`+email+`"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last, retry = resp.StatusCode, resp.Header.Get("Retry-After")
		}
		if last != 429 || retry == "" {
			t.Errorf("%s: 4th request in the window: %d Retry-After %q, want 429", email, last, retry)
		}
	}
}

func TestMagicLinkExpiredAndSignup(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		manual := manualClock()
		s, box := startMagicServerOn(t, map[string]string{"SM_MAGIC_LINK_TTL": "1s"}, manual)
		s.register(t, "carol")
		tok := s.requestLink(t, box, "carol@example.com")
		manual.clock.Advance(1100 * time.Millisecond)
		code, _, body := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
		if code != 400 || errReason(body) != "link_expired" {
			t.Fatalf("expired link: %d %v", code, body)
		}
	})
	t.Run("signup", func(t *testing.T) {
		s, box := startMagicServer(t, map[string]string{"SM_MAGIC_LINK_SIGNUP": "true"})
		tok := s.requestLink(t, box, "newcomer@example.com")
		code, _, login := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
		user, _ := login["user"].(map[string]any)
		if code != 200 || str(user, "email") != "newcomer@example.com" {
			t.Fatalf("signup verify: %d %v", code, login)
		}
		// The second link signs in to the same account.
		tok = s.requestLink(t, box, "newcomer@example.com")
		code, _, again := s.call("POST", "/api/auth/magic-link/verify", "", map[string]any{"token": tok})
		user2, _ := again["user"].(map[string]any)
		if code != 200 || str(user2, "id") != str(user, "id") {
			t.Fatalf("second sign-in: %d %v", code, again)
		}
	})
}

// verifyWithGoJose checks an access token with go-jose (not the library
// the server signs with) against the server's JWKS.
func verifyWithGoJose(t *testing.T, s *server, token string) {
	t.Helper()
	resp, err := http.Get(s.base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose parse: %v", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("go-jose verify: %v", err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["sid"] == nil || claims["sub"] == nil || claims["exp"] == nil {
		t.Fatalf("claims: %v", claims)
	}
}

func TestMagicLinkConfigErrors(t *testing.T) {
	base := map[string]string{"SM_MAGIC_LINK_URL": magicLinkBase, "SMTP_URL": "smtp://127.0.0.1:2525?tls=none"}
	cases := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"SMTP_URL": ""}, "SMTP_URL is not"},
		{map[string]string{"SM_MAGIC_LINK_URL": "/relative?token="}, "SM_MAGIC_LINK_URL"},
		{map[string]string{"SM_MAGIC_LINK_URL": "https://u:p@app.example.com/?token="}, "SM_MAGIC_LINK_URL"},
		{map[string]string{"SM_MAGIC_LINK_TTL": "forever"}, "SM_MAGIC_LINK_TTL"},
		{map[string]string{"SM_MAGIC_LINK_TTL": "48h"}, "SM_MAGIC_LINK_TTL"},
		{map[string]string{"SM_MAGIC_LINK_SIGNUP": "maybe"}, "SM_MAGIC_LINK_SIGNUP"},
		{map[string]string{"SM_MAGIC_LINK_PER_EMAIL": "0"}, "SM_MAGIC_LINK_PER_EMAIL"},
		{map[string]string{"SMTP_URL": "smtp://127.0.0.1?tls=sometimes"}, "tls"},
	}
	for _, c := range cases {
		env := map[string]string{"SM_DATA_DIR": t.TempDir()}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range c.set {
			env[k] = v
		}
		_, err := loadConfig(func(k string) string { return env[k] }, nil)
		if _, ok := err.(*configError); !ok || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want a one-line configuration error naming %s", c.set, err, c.want)
		}
	}
	env := map[string]string{"SM_DATA_DIR": t.TempDir()}
	for k, v := range base {
		env[k] = v
	}
	c, err := loadConfig(func(k string) string { return env[k] }, nil)
	if err != nil || c.MagicLink == nil || c.MagicLink.Options.TTL != 15*time.Minute {
		t.Fatalf("valid magic-link configuration: %v %+v", err, c)
	}
}
