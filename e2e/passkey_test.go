package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// passkeyHelpers are installed in a page: fetch the API and run the
// browser's own WebAuthn ceremonies (navigator.credentials) on options in
// their JSON form. Every helper resolves to a JSON string.
const passkeyHelpers = `window.pk = {
  async api(method, path, jwt, body) {
    const h = {'Content-Type': 'application/json'};
    if (jwt) h.Authorization = 'Bearer ' + jwt;
    const r = await fetch(path, {method, headers: h, body: body === undefined ? undefined : JSON.stringify(body)});
    let j = null; try { j = await r.json(); } catch (e) {}
    return JSON.stringify({status: r.status, body: j});
  },
  async create(publicKey) {
    const c = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey)});
    return JSON.stringify(c.toJSON());
  },
  async get(publicKey) {
    const c = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey)});
    return JSON.stringify(c.toJSON());
  },
}; 1`

// passkeyServer starts the binary with passkeys for the origin
// http://localhost:PORT (the RP ID "localhost": browsers refuse an IP
// address as a relying party, and treat localhost as a secure context),
// with an Advanced licence (enrolling is licensed with the challenges)
// unless extra says otherwise.
func passkeyServer(t *testing.T, extra map[string]string) (*server, string) {
	t.Helper()
	addr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	origin := "http://localhost:" + port
	env := map[string]string{"SM_ADDR": addr, "SM_PUBLIC_URL": origin, "LICENSE_KEY": testLicense(t, license.EditionAdvanced)}
	for k, v := range extra {
		env[k] = v
	}
	return startServer(t, "serve", env), origin
}

// browserTab is one tab with its own virtual authenticator (CTAP2,
// internal, resident keys, user verification that succeeds), at origin.
type browserTab struct {
	t   *testing.T
	ctx context.Context
}

func newBrowserTab(t *testing.T, parent context.Context, origin string) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	tab := &browserTab{t: t, ctx: ctx}
	tab.open(origin)
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return tab
}

// open navigates the tab to a page of origin and installs the helpers.
func (b *browserTab) open(origin string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(origin+"/healthz")); err != nil {
		b.t.Fatalf("navigate %s: %v", origin, err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](passkeyHelpers)); err != nil {
		b.t.Fatalf("install helpers: %v", err)
	}
}

// eval runs an async helper call and decodes its JSON string.
func (b *browserTab) eval(expr string, out any) {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		b.t.Fatalf("%s: %v: %s", expr, err, s)
	}
}

type apiAnswer struct {
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

// api calls the server from the page (same origin).
func (b *browserTab) api(method, path, jwt string, body any) apiAnswer {
	b.t.Helper()
	args, _ := json.Marshal([]any{method, path, jwt, body})
	var a apiAnswer
	b.eval("pk.api(..."+string(args)+")", &a)
	return a
}

// create runs navigator.credentials.create on options ({"publicKey": ...}
// as the server answered) and returns the PublicKeyCredential JSON.
func (b *browserTab) create(options map[string]any) json.RawMessage {
	b.t.Helper()
	return b.ceremony("create", options)
}

// get runs navigator.credentials.get on options.
func (b *browserTab) get(options map[string]any) json.RawMessage {
	b.t.Helper()
	return b.ceremony("get", options)
}

func (b *browserTab) ceremony(helper string, options map[string]any) json.RawMessage {
	b.t.Helper()
	pub, _ := json.Marshal(options["publicKey"])
	var c json.RawMessage
	b.eval("pk."+helper+"("+string(pub)+")", &c)
	return c
}

// jwtOf signs a user in with a password from the device it signed up on
// (register's user agent: no new device).
func jwtOf(t *testing.T, s *server, identifier, password string) string {
	t.Helper()
	code, out := s.loginFrom("", uaFirefoxLinux, identifier, password)
	if code != 200 || str(out, "jwt") == "" {
		t.Fatalf("login %s: %d %v", identifier, code, out)
	}
	return str(out, "jwt")
}

func passkeyList(t *testing.T, s *server, jwt string) []any {
	t.Helper()
	code, _, out := s.call("GET", "/api/users/me/passkeys", jwt, nil)
	if code != 200 {
		t.Fatalf("list passkeys: %d %v", code, out)
	}
	list, _ := out["data"].([]any)
	return list
}

func wantRefused(t *testing.T, what string, code int, body map[string]any, status int, reason string) {
	t.Helper()
	if code != status || errReason(body) != reason {
		t.Fatalf("%s: got %d %q (%v), want %d %q", what, code, errReason(body), body, status, reason)
	}
}

// TestBrowserPasskeyEnrolAndPasswordless drives real WebAuthn ceremonies in
// headless Chromium with a DevTools virtual authenticator against the
// binary: enrol a passkey (which ends the user's other sessions), sign in
// with it without a password, and the abuse cases: a registration finished
// by another session, a replayed assertion, an assertion made on another
// origin, another user's passkey in the self-service routes. Each refusal
// is a clear 4xx and leaves nothing behind.
func TestBrowserPasskeyEnrolAndPasswordless(t *testing.T) {
	s, origin := passkeyServer(t, nil)
	s.register("", "alice", "alice@example.com", "alice password 1")
	s.register("", "bob", "bob@example.com", "bob password 1")
	jwt1 := jwtOf(t, s, "alice", "alice password 1")
	jwt2 := jwtOf(t, s, "alice", "alice password 1")
	bob := jwtOf(t, s, "bob", "bob password 1")

	browser := browsertest.Chrome(t)
	tab := newBrowserTab(t, browser, origin)

	// A registration begun by one session cannot be finished by another
	// (even of the same user): the ceremony is bound to its session.
	opts := tab.api("POST", "/api/users/me/passkeys/options", jwt1, nil)
	if opts.Status != 200 || opts.Body["publicKey"] == nil {
		t.Fatalf("registration options: %+v", opts)
	}
	cred := tab.create(opts.Body)
	code, _, out := s.call("POST", "/api/users/me/passkeys", jwt2, map[string]any{"name": "Laptop", "credential": cred})
	wantRefused(t, "registration finished by another session", code, out, 400, "passkey_ceremony_unknown")
	if n := len(passkeyList(t, s, jwt1)); n != 0 {
		t.Fatalf("a refused registration stored %d passkeys", n)
	}
	// The ceremony was spent by that attempt: its own session cannot
	// use it either now.
	code, _, out = s.call("POST", "/api/users/me/passkeys", jwt1, map[string]any{"name": "Laptop", "credential": cred})
	wantRefused(t, "spent registration ceremony", code, out, 400, "passkey_ceremony_unknown")

	opts = tab.api("POST", "/api/users/me/passkeys/options", jwt1, nil)
	cred = tab.create(opts.Body)
	reg := tab.api("POST", "/api/users/me/passkeys", jwt1, map[string]any{"name": "Laptop", "credential": cred})
	// Ended: the session of the sign-up and jwt2.
	if reg.Status != 201 || reg.Body["endedSessions"] != float64(2) {
		t.Fatalf("enrol: %+v", reg)
	}
	pk, _ := reg.Body["data"].(map[string]any)
	if str(pk, "name") != "Laptop" || str(pk, "id") == "" {
		t.Fatalf("enrolled passkey: %v", pk)
	}
	if code, _, _ := s.call("GET", "/api/users/me", jwt2, nil); code != 401 {
		t.Fatalf("alice's other session after enrolment: %d, want 401", code)
	}
	if code, _, _ := s.call("GET", "/api/users/me", jwt1, nil); code != 200 {
		t.Fatalf("the enrolling session: %d, want 200", code)
	}

	// Bob cannot see, rename or remove alice's passkey.
	if n := len(passkeyList(t, s, bob)); n != 0 {
		t.Fatalf("bob sees %d passkeys", n)
	}
	code, _, out = s.call("PATCH", "/api/users/me/passkeys/"+str(pk, "id"), bob, map[string]any{"name": "mine"})
	wantRefused(t, "bob renames alice's passkey", code, out, 404, "")
	code, _, out = s.call("DELETE", "/api/users/me/passkeys/"+str(pk, "id"), bob, nil)
	wantRefused(t, "bob removes alice's passkey", code, out, 404, "")

	// Passwordless sign-in: discoverable options, the browser picks the
	// passkey, the server runs the login pipeline.
	code, _, lo := s.call("POST", "/api/auth/passkey/options", "", nil)
	if code != 200 || lo["publicKey"] == nil {
		t.Fatalf("login options: %d %v", code, lo)
	}
	assertion := tab.get(lo)
	login := tab.api("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": assertion})
	if login.Status != 200 || str(login.Body, "jwt") == "" {
		t.Fatalf("passkey sign-in: %+v", login)
	}
	user, _ := login.Body["user"].(map[string]any)
	if str(user, "username") != "alice" {
		t.Fatalf("signed in as %v", user)
	}
	pjwt := str(login.Body, "jwt")
	code, _, mine := s.call("GET", "/api/sessions/me", pjwt, nil)
	sessions, _ := mine["data"].([]any)
	method := ""
	for _, raw := range sessions {
		if ss, _ := raw.(map[string]any); ss["current"] == true {
			method = str(ss, "authMethod")
		}
	}
	if code != 200 || method != "passkey" {
		t.Fatalf("the passkey session's auth method %q (%d %v)", method, code, mine)
	}
	live := len(sessions)

	// The same assertion again: its ceremony is spent.
	code, _, out = s.call("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": assertion})
	wantRefused(t, "replayed assertion", code, out, 400, "passkey_ceremony_unknown")

	// An assertion made on another origin (same RP ID, another port) for
	// a genuine ceremony of this server.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><title>elsewhere</title>"))
	}))
	t.Cleanup(other.Close)
	_, otherPort, _ := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	tab.open("http://localhost:" + otherPort)
	_, _, lo = s.call("POST", "/api/auth/passkey/options", "", nil)
	foreign := tab.get(lo)
	code, _, out = s.call("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": foreign})
	wantRefused(t, "assertion from another origin", code, out, 400, "passkey_origin")

	// Malformed and empty answers are 400 with a reason, never a 500.
	code, _, out = s.call("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": map[string]any{"id": "x", "type": "public-key"}})
	wantRefused(t, "malformed credential", code, out, 400, "passkey_malformed")
	code, _, out = s.call("POST", "/api/auth/passkey/verify", "", map[string]any{})
	if code != 400 {
		t.Fatalf("no credential: %d %v", code, out)
	}

	// None of the refusals opened a session.
	_, _, mine = s.call("GET", "/api/sessions/me", pjwt, nil)
	if sessions, _ := mine["data"].([]any); len(sessions) != live {
		t.Fatalf("refused sign-ins left sessions: %d, want %d", len(sessions), live)
	}

	// Rename, then remove: removal ends the other sessions too.
	tab.open(origin)
	code, _, out = s.call("PATCH", "/api/users/me/passkeys/"+str(pk, "id"), pjwt, map[string]any{"name": "Work laptop"})
	if code != 200 {
		t.Fatalf("rename: %d %v", code, out)
	}
	code, _, out = s.call("DELETE", "/api/users/me/passkeys/"+str(pk, "id"), pjwt, nil)
	if code != 200 || out["endedSessions"] != float64(1) {
		t.Fatalf("remove: %d %v", code, out)
	}
	if code, _, _ := s.call("GET", "/api/users/me", jwt1, nil); code != 401 {
		t.Fatalf("alice's enrolling session after the removal: %d, want 401", code)
	}
	// The removed passkey signs nobody in.
	_, _, lo = s.call("POST", "/api/auth/passkey/options", "", nil)
	gone := tab.get(lo)
	code, _, out = s.call("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": gone})
	wantRefused(t, "removed passkey", code, out, 400, "passkey_unknown")
}

// TestBrowserPasskeyChallenge: a login the policy challenges (a new
// device) is finished with a passkey as the webauthn factor, through
// /api/auth/challenge/options and /verify, in headless Chromium with
// virtual authenticators against the binary. Bob's challenge answered by
// alice's passkey (her authenticator signing bob's options) is refused and
// opens nothing; bob's own passkey then passes it, and the session carries
// amr hwk + mfa and acr 2.
func TestBrowserPasskeyChallenge(t *testing.T) {
	s, origin := passkeyServer(t, nil)
	if code, _, out := s.call("PUT", "/api/admin/settings", s.adminToken("write"), map[string]any{"actions": map[string]any{"newDevice": "challenge"}}); code != 200 {
		t.Fatalf("settings: %d %v", code, out)
	}
	browser := browsertest.Chrome(t)
	tabs := map[string]*browserTab{}
	for _, name := range []string{"alice", "bob"} {
		s.register("", name, name+"@example.com", name+" password 1")
		jwt := jwtOf(t, s, name, name+" password 1") // the sign-up's device: no challenge
		tabs[name] = newBrowserTab(t, browser, origin)
		opts := tabs[name].api("POST", "/api/users/me/passkeys/options", jwt, nil)
		reg := tabs[name].api("POST", "/api/users/me/passkeys", jwt, map[string]any{"name": name + "'s key", "credential": tabs[name].create(opts.Body)})
		if reg.Status != 201 {
			t.Fatalf("%s enrols: %+v", name, reg)
		}
	}

	// challengedLogin signs in with the password from the tab's browser (a
	// device the user never used): 401 challenge_required, webauthn first.
	challengedLogin := func(name string) string {
		t.Helper()
		a := tabs[name].api("POST", "/api/auth/local", "", map[string]any{"identifier": name, "password": name + " password 1"})
		e, _ := a.Body["error"].(map[string]any)
		d, _ := e["details"].(map[string]any)
		ch, _ := d["challenge"].(map[string]any)
		methods, _ := ch["methods"].([]any)
		if a.Status != 401 || errReason(a.Body) != "challenge_required" || len(methods) == 0 || methods[0] != "webauthn" {
			t.Fatalf("%s from a new device: %+v", name, a)
		}
		return str(ch, "id")
	}
	options := func(name, challengeID string) map[string]any {
		t.Helper()
		o := tabs[name].api("POST", "/api/auth/challenge/options", "", map[string]any{"challengeId": challengeID})
		if o.Status != 200 || o.Body["publicKey"] == nil {
			t.Fatalf("challenge options: %+v", o)
		}
		return o.Body
	}

	bobChallenge := challengedLogin("bob")
	// Alice's authenticator signs bob's options (allowCredentials removed,
	// so her discoverable passkey answers).
	o := options("bob", bobChallenge)
	pub, _ := o["publicKey"].(map[string]any)
	delete(pub, "allowCredentials")
	stolen := tabs["alice"].get(o)
	v := tabs["bob"].api("POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": bobChallenge, "method": "webauthn", "credential": stolen})
	if v.Status != 400 || errReason(v.Body) != "passkey_unknown" || str(v.Body, "jwt") != "" {
		t.Fatalf("alice's passkey for bob's challenge: %+v", v)
	}
	// Without new options there is no ceremony to answer.
	v = tabs["bob"].api("POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": bobChallenge, "method": "webauthn", "credential": stolen})
	if v.Status != 400 || errReason(v.Body) != "passkey_ceremony_unknown" {
		t.Fatalf("the spent options again: %+v", v)
	}

	// Bob's own passkey passes the challenge: exactly a login's answer.
	proof := tabs["bob"].get(options("bob", bobChallenge))
	v = tabs["bob"].api("POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": bobChallenge, "method": "webauthn", "credential": proof})
	if v.Status != 200 || str(v.Body, "jwt") == "" || str(v.Body["user"].(map[string]any), "username") != "bob" {
		t.Fatalf("bob passes with his passkey: %+v", v)
	}
	code, _, mine := s.call("GET", "/api/sessions/me", str(v.Body, "jwt"), nil)
	var current map[string]any
	sessions, _ := mine["data"].([]any)
	for _, raw := range sessions {
		if ss, _ := raw.(map[string]any); ss["current"] == true {
			current = ss
		}
	}
	amr, _ := json.Marshal(current["amr"])
	if code != 200 || str(current, "acr") != "2" || string(amr) != `["pwd","hwk","mfa"]` {
		t.Fatalf("the challenged session's proof: acr %q amr %s (%d %v)", str(current, "acr"), amr, code, current)
	}
	// The passed challenge takes no second proof.
	v = tabs["bob"].api("POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": bobChallenge, "method": "webauthn", "credential": proof})
	if v.Status != 400 || errReason(v.Body) != "challenge_used" {
		t.Fatalf("a passed challenge again: %+v", v)
	}

	// Alice passes a password login's challenge with her passkey.
	aliceChallenge := challengedLogin("alice")
	v = tabs["alice"].api("POST", "/api/auth/challenge/verify", "", map[string]any{"challengeId": aliceChallenge, "method": "webauthn",
		"credential": tabs["alice"].get(options("alice", aliceChallenge))})
	if v.Status != 200 || str(v.Body["user"].(map[string]any), "username") != "alice" {
		t.Fatalf("alice passes with her passkey: %+v", v)
	}

	// A passwordless sign-in from a device alice never used (another user
	// agent): the policy's challenge is satisfied by the passkey itself.
	if _, err := chromedp.Call(tabs["alice"].ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: uaFirefoxWin}); err != nil {
		t.Fatal(err)
	}
	_, _, lo := s.call("POST", "/api/auth/passkey/options", "", nil)
	pl := tabs["alice"].api("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": tabs["alice"].get(lo)})
	if pl.Status != 200 || str(pl.Body, "jwt") == "" {
		t.Fatalf("passwordless from a new device under a challenge policy: %+v", pl)
	}
	_, _, mine = s.call("GET", "/api/sessions/me", str(pl.Body, "jwt"), nil)
	sessions, _ = mine["data"].([]any)
	for _, raw := range sessions {
		if ss, _ := raw.(map[string]any); ss["current"] == true {
			current = ss
		}
	}
	reasons, _ := json.Marshal(current["reasons"])
	amr, _ = json.Marshal(current["amr"])
	if !strings.Contains(string(reasons), `"new_device"`) || str(current, "acr") != "2" || string(amr) != `["hwk","mfa"]` {
		t.Fatalf("the passkey session from a new device: reasons %s amr %s acr %q", reasons, amr, str(current, "acr"))
	}
}

// TestBrowserPasskeyAcrossInstances: a ceremony begun on one instance is
// finished on another (the state is in the shared PostgreSQL store, not in
// a process), and is single use across them.
func TestBrowserPasskeyAcrossInstances(t *testing.T) {
	db, key := testenv.PostgresSchema(t), token.GenerateKey()
	addrs := []string{testenv.FreeAddr(t), testenv.FreeAddr(t)}
	var origins []string
	for _, a := range addrs {
		_, port, _ := net.SplitHostPort(a)
		origins = append(origins, "http://localhost:"+port)
	}
	var servers []*server
	for _, a := range addrs {
		servers = append(servers, startServer(t, "serve", map[string]string{"SM_ADDR": a, "DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": key,
			"SM_WEBAUTHN_RP_ID": "localhost", "SM_WEBAUTHN_ORIGINS": strings.Join(origins, ","), "LICENSE_KEY": testLicense(t, license.EditionAdvanced)}))
	}
	one, two := servers[0], servers[1]
	one.register("", "alice", "alice@example.com", "alice password 1")
	jwt := jwtOf(t, one, "alice", "alice password 1")
	tab := newBrowserTab(t, browsertest.Chrome(t), origins[0])

	// Options from instance one, the attestation finished on instance two.
	opts := tab.api("POST", "/api/users/me/passkeys/options", jwt, nil)
	code, _, out := two.call("POST", "/api/users/me/passkeys", jwt, map[string]any{"credential": tab.create(opts.Body)})
	if code != 201 {
		t.Fatalf("enrol across instances: %d %v", code, out)
	}

	// Sign-in options from two, the assertion verified on one; the same
	// assertion then on two finds its ceremony spent.
	_, _, lo := two.call("POST", "/api/auth/passkey/options", "", nil)
	assertion := tab.get(lo)
	code, _, out = one.call("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": assertion})
	if code != 200 || str(out, "jwt") == "" {
		t.Fatalf("sign-in across instances: %d %v", code, out)
	}
	code, _, out = two.call("POST", "/api/auth/passkey/verify", "", map[string]any{"credential": assertion})
	wantRefused(t, "the assertion replayed on the other instance", code, out, 400, "passkey_ceremony_unknown")
}
