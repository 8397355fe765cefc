package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	sm "github.com/magic-sessionmanager/sessionmanager"
)

// smtpMessage is one message the test SMTP server accepted.
type smtpMessage struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// smtpServer is a real go-smtp server on 127.0.0.1 that captures mail.
type smtpServer struct {
	addr     string
	mu       sync.Mutex
	messages []smtpMessage
	caPool   *x509.CertPool
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	msg  smtpMessage
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != "p@ss word" {
			return errors.New("bad credentials")
		}
		s.msg.user = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.msg.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.msg.tls = s.conn.TLSConnectionState()
	s.msg.data = b
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.msg)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.msg = smtpMessage{user: s.msg.user} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs a server; withTLS offers STARTTLS with a test certificate.
func startSMTP(t *testing.T, withTLS bool) *smtpServer {
	t.Helper()
	ss := &smtpServer{}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: ss, conn: c}, nil })
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = !withTLS
	if withTLS {
		// Borrow httptest's certificate for 127.0.0.1.
		hs := httptest.NewTLSServer(nil)
		srv.TLSConfig = hs.TLS.Clone()
		ss.caPool = x509.NewCertPool()
		ss.caPool.AddCert(hs.Certificate())
		hs.Close()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return ss
}

func (ss *smtpServer) all() []smtpMessage {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]smtpMessage(nil), ss.messages...)
}

// parts parses a captured message into subject, text and HTML bodies.
func parts(t *testing.T, data []byte) (subject, text, html string, h mail.Header) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(p)
		}
		b, _ := io.ReadAll(r)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
	return subject, text, html, m.Header
}

func TestEmailAlertOverSMTP(t *testing.T) {
	ss := startSMTP(t, false)
	d := deliveriesFor(t, newSealer(t), sm.AlertChannel{Type: ChannelEmail, To: []string{"sec@example.com", "ops@example.com"}})[0]
	sender, err := NewEmailSender(EmailConfig{SMTPURL: "smtp://" + ss.addr + "?tls=none", From: "Security <alerts@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	msgs := ss.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.from != "alerts@example.com" || strings.Join(m.to, ",") != "sec@example.com,ops@example.com" {
		t.Fatalf("envelope %s -> %v", m.from, m.to)
	}
	subject, text, html, h := parts(t, m.data)
	if !strings.Contains(subject, "[critical]") || !strings.Contains(subject, "Tor <b>exits</b>") || strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("subject %q", subject)
	}
	for _, want := range []string{"jane@example.com", "<script>alert(1)</script>", "Berlin, Germany", "203.0.113.9", "Firefox / Linux", "Tor", "new_country", "Paris, France"} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("HTML does not escape the username:\n%s", html)
	}
	if strings.Contains(html, "<b>exits</b>") {
		t.Fatal("HTML does not escape the rule name")
	}
	if h.Get(HeaderIdempotencyKey) != d.IdempotencyKey || !strings.Contains(h.Get("Message-Id"), d.IdempotencyKey) {
		t.Fatalf("headers %v", h)
	}
}

func TestUserNewSignInEmail(t *testing.T) {
	ss := startSMTP(t, false)
	in := loginInput()
	in.User.Username = "<img src=x>"
	ds, err := NewEngine(EngineConfig{NewSignInEmail: true}).Deliveries(context.Background(), in)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%v, %v", ds, err)
	}
	sender, err := NewEmailSender(EmailConfig{SMTPURL: "smtp://" + ss.addr + "?tls=none", From: "alerts@example.com", Templates: NewTemplates(openStore(t, ""))})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(context.Background(), ds[0]); err != nil {
		t.Fatal(err)
	}
	m := ss.all()[0]
	subject, text, html, _ := parts(t, m.data)
	if m.to[0] != "jane@example.com" || subject != "New sign-in to your account from Berlin, Germany" {
		t.Fatalf("to %v subject %q", m.to, subject)
	}
	if !strings.Contains(text, "change your password") || !strings.Contains(text, "203.0.113.9") {
		t.Fatalf("text %q", text)
	}
	if strings.Contains(html, "<img") || !strings.Contains(html, "Hello &lt;img src=x&gt;") {
		t.Fatalf("html not escaped: %s", html)
	}
}

func TestEmailStartTLSWithAuthAndEditedTemplates(t *testing.T) {
	ss := startSMTP(t, true)
	st := openStore(t, "")
	tpls := NewTemplates(st)
	ctx := context.Background()
	err := tpls.Put(ctx, TemplateSet{KindRule: {Subject: "ALERT {{.User.Username}}", HTML: "<p>{{.User.Username}} from {{.Place}}</p>"}})
	if err != nil {
		t.Fatal(err)
	}
	d := deliveriesFor(t, newSealer(t), sm.AlertChannel{Type: ChannelEmail, To: []string{"sec@example.com"}})[0]
	sender, err := NewEmailSender(EmailConfig{SMTPURL: "smtp://alerts:p%40ss%20word@" + ss.addr, From: "alerts@example.com",
		Templates: tpls, TLSConfig: &tls.Config{RootCAs: ss.caPool}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(ctx, d); err != nil {
		t.Fatal(err)
	}
	m := ss.all()[0]
	if !m.tls || m.user != "alerts" {
		t.Fatalf("tls=%v user=%q", m.tls, m.user)
	}
	subject, text, html, _ := parts(t, m.data)
	if subject != "ALERT <script>alert(1)</script>" {
		t.Fatalf("subject %q", subject)
	}
	if html != "<p>&lt;script&gt;alert(1)&lt;/script&gt; from Berlin, Germany</p>" {
		t.Fatalf("html %q", html)
	}
	if !strings.Contains(text, "Score:     ") { // the default text template is kept
		t.Fatalf("text %q", text)
	}
}

func TestEmailRefusesPlainWhenTLSRequired(t *testing.T) {
	ss := startSMTP(t, false) // no STARTTLS offered
	d := deliveriesFor(t, newSealer(t), sm.AlertChannel{Type: ChannelEmail, To: []string{"sec@example.com"}})[0]
	sender, err := NewEmailSender(EmailConfig{SMTPURL: "smtp://" + ss.addr, From: "alerts@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(context.Background(), d); err == nil {
		t.Fatal("sent without TLS although smtp:// requires STARTTLS")
	}
	if len(ss.all()) != 0 {
		t.Fatal("the message reached the server in clear")
	}
}

func TestTemplatesValidation(t *testing.T) {
	tpls := NewTemplates(openStore(t, ""))
	err := tpls.Put(context.Background(), TemplateSet{
		KindRule:          {Subject: "{{.Nope"},
		KindUserNewSignIn: {HTML: "{{.NoSuchField}}"},
		"pager":           {Text: "x"},
	})
	var e *sm.Error
	if !errors.As(err, &e) || e.Fields["rule.subject"] == "" || e.Fields["user_new_signin.html"] == "" || e.Fields["pager"] == "" {
		t.Fatalf("err = %v", err)
	}
}

func TestEmailConfig(t *testing.T) {
	bad := []EmailConfig{
		{SMTPURL: "smtp://host:25", From: "not an address"},
		{SMTPURL: "http://host", From: "a@b.example"},
		{SMTPURL: "smtp://host:99999", From: "a@b.example"},
		{SMTPURL: "smtp://host?tls=maybe", From: "a@b.example"},
		{SMTPURL: "", From: "a@b.example"},
	}
	for _, c := range bad {
		if _, err := NewEmailSender(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	for _, u := range []string{"smtp://u:p@mail.example.com:587", "smtps://mail.example.com", "smtp://localhost:25?tls=none"} {
		if _, err := NewEmailSender(EmailConfig{SMTPURL: u, From: "a@b.example"}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
