package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

func TestExternalSessions(t *testing.T) {
	s := startServer(t, nil)
	service, read, write := s.adminToken("service"), s.adminToken("read"), s.adminToken("write")
	body := map[string]any{"externalUserId": "auth0|42", "email": "Frank@Example.com", "username": "frank", "ip": "203.0.113.7",
		"userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	if code, _, _ := s.call("POST", "/api/sessions", "", body); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _, _ := s.call("POST", "/api/sessions", read, body); code != 403 {
		t.Fatalf("read token: %d", code)
	}
	code, _, first := s.call("POST", "/api/sessions", service, body)
	if code != 201 || str(first, "jwt") == "" || str(first, "refreshToken") == "" {
		t.Fatalf("external session: %d %v", code, first)
	}
	user := first["user"].(map[string]any)
	sid := str(first["session"].(map[string]any), "id")
	if str(user, "email") != "frank@example.com" || str(user, "username") != "frank" {
		t.Errorf("user: %v", user)
	}
	code, _, got := s.call("GET", "/api/admin/sessions/"+sid, read, nil)
	rec, _ := got["data"].(map[string]any)
	dev, _ := rec["device"].(map[string]any)
	if code != 200 || str(rec, "authMethod") != "external" || str(rec, "ip") != "203.0.113.7" || str(dev, "browser") != "Firefox" {
		t.Fatalf("session record: %d %v", code, got)
	}
	if code, _, me := s.call("GET", "/api/users/me", str(first, "jwt"), nil); code != 200 || str(me, "id") != str(user, "id") {
		t.Fatalf("me with the external session: %d %v", code, me)
	}
	// Seen again: the same user.
	code, _, again := s.call("POST", "/api/sessions", service, body)
	if code != 201 || str(again["user"].(map[string]any), "id") != str(user, "id") {
		t.Fatalf("second external session: %d %v", code, again)
	}
	for _, bad := range []map[string]any{
		{"externalUserId": "x", "ip": "not-an-ip"},
		{"externalUserId": "", "ip": "203.0.113.7"},
		{"externalUserId": "x", "ip": "0.0.0.0"},
		{"externalUserId": "x", "ip": "203.0.113.7", "email": "nope"},
	} {
		if code, _, resp := s.call("POST", "/api/sessions", service, bad); code != 400 || len(fieldsOf(resp)) == 0 {
			t.Errorf("%v: %d %v", bad, code, resp)
		}
	}

	// A blocked user is refused (403), like at the password login.
	if code, _, resp := s.call("POST", "/api/admin/users/"+str(user, "id")+"/block", write, nil); code != 200 {
		t.Fatalf("block: %d %v", code, resp)
	}
	if code, _, refused := s.call("POST", "/api/sessions", service, body); code != 403 || errReason(refused) != "user_blocked" {
		t.Fatalf("blocked user: %d %v, want 403 user_blocked", code, refused)
	}
}

// TestExternalSessionFirewall shows the login policy applies to external
// sessions: a new device scores 0 under this policy and is blocked
// (blocking is a paid feature: the test needs -tags licensetest).
func TestExternalSessionFirewall(t *testing.T) {
	s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	service, read, write := s.adminToken("service"), s.adminToken("read"), s.adminToken("write")
	body := map[string]any{"externalUserId": "auth0|7", "ip": "203.0.113.7",
		"userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	if code, _, resp := s.call("POST", "/api/sessions", service, body); code != 201 {
		t.Fatalf("first external session: %d %v", code, resp)
	}
	code, _, settings := s.call("GET", "/api/admin/settings", read, nil)
	if code != 200 {
		t.Fatalf("settings: %d %v", code, settings)
	}
	doc, ok := settings["data"].(map[string]any)
	if !ok {
		doc = settings
	}
	doc["weights"] = map[string]any{"new_device": 100}
	doc["scoreThreshold"] = 50
	doc["actions"].(map[string]any)["lowScore"] = "block"
	if code, _, resp := s.call("PUT", "/api/admin/settings", write, doc); code != 200 {
		t.Fatalf("put settings: %d %v", code, resp)
	}
	body["userAgent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	code, _, refused := s.call("POST", "/api/sessions", service, body)
	if code != 403 || errReason(refused) != "low_score" {
		t.Fatalf("firewall: %d %v, want 403 low_score", code, refused)
	}
}

// introspect posts a form-encoded RFC 7662 request.
func (s *server) introspect(t *testing.T, bearer, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/api/auth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestIntrospection(t *testing.T) {
	s := startServer(t, nil)
	service, read, write := s.adminToken("service"), s.adminToken("read"), s.adminToken("write")
	reg := s.register(t, "grace")
	jwt := str(reg, "jwt")
	uid := str(reg["user"].(map[string]any), "id")
	sid := str(reg["session"].(map[string]any), "id")
	if code, _ := s.introspect(t, read, jwt); code != 403 {
		t.Fatalf("read token: %d", code)
	}
	if code, _ := s.introspect(t, jwt, jwt); code != 401 {
		t.Fatalf("user token as the caller: %d", code)
	}
	code, got := s.introspect(t, service, jwt)
	if code != 200 || got["active"] != true || str(got, "sub") != uid || str(got, "sid") != sid || str(got, "token_type") != "access_token" ||
		str(got, "iss") != "sessionmanager" || str(got, "aud") != "sessionmanager" || str(got, "username") != "grace" || str(got, "email") != "grace@example.com" {
		t.Fatalf("introspect: %d %v", code, got)
	}
	exp, _ := got["exp"].(float64)
	iat, _ := got["iat"].(float64)
	if exp <= iat || iat == 0 {
		t.Errorf("exp %v iat %v", exp, iat)
	}
	if code, _, got := s.call("POST", "/api/auth/introspect", service, map[string]any{"token": jwt}); code != 200 || got["active"] != true {
		t.Fatalf("introspect JSON: %d %v", code, got)
	}
	for _, bad := range []string{"garbage", jwt[:len(jwt)-2] + "xx", str(reg, "refreshToken")} {
		if code, got := s.introspect(t, service, bad); code != 200 || got["active"] != false || len(got) != 1 {
			t.Errorf("introspect %q: %d %v, want only active:false", bad, code, got)
		}
	}
	if code, _ := s.introspect(t, service, ""); code != 400 {
		t.Errorf("missing token: %d", code)
	}
	if code, _, _ := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
		t.Fatal("terminate")
	}
	if code, got := s.introspect(t, service, jwt); code != 200 || got["active"] != false {
		t.Fatalf("introspect after force logout: %d %v", code, got)
	}
}

// sseEvent is one event of the revocation feed.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// openFeed connects to the revocation feed and returns its events.
func (s *server) openFeed(t *testing.T, bearer, lastID, query string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/api/auth/revocations"+query, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("feed: %d %s", resp.StatusCode, b)
	}
	events := make(chan sseEvent, 64)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		rd := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.event != "" {
					events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	return events, cancel
}

func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("feed closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no feed event in 10s")
	}
	return sseEvent{}
}

func TestRevocationFeed(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		service, read, write := s.adminToken("service"), s.adminToken("read"), s.adminToken("write")
		if code, _, _ := s.call("GET", "/api/auth/revocations", read, nil); code != 403 {
			t.Fatalf("read token: %d", code)
		}
		if code, _, _ := s.call("GET", "/api/auth/revocations?after=-1", service, nil); code != 400 {
			t.Fatalf("bad cursor: %d", code)
		}
		a, b, c := s.register(t, "heidi"), s.register(t, "ivan"), s.register(t, "judy")
		sidOf := func(reg map[string]any) string { return str(reg["session"].(map[string]any), "id") }
		terminate := func(sid string) {
			if code, _, body := s.call("POST", "/api/admin/sessions/"+sid+"/terminate", write, nil); code != 200 {
				t.Fatalf("terminate: %d %v", code, body)
			}
		}

		events, closeFeed := s.openFeed(t, service, "", "")
		terminate(sidOf(a))
		ev := nextEvent(t, events)
		if ev.event != "revoked" || str(ev.data, "sid") != sidOf(a) || str(ev.data, "reason") != "manual" || ev.id == "" {
			t.Fatalf("live event: %+v", ev)
		}
		closeFeed()

		// Ended while disconnected: replayed after the cursor, once.
		terminate(sidOf(b))
		if code, _, _ := s.call("POST", "/api/auth/logout", str(c, "jwt"), nil); code != 200 {
			t.Fatal("logout")
		}
		events, closeFeed = s.openFeed(t, service, ev.id, "")
		defer closeFeed()
		first, second := nextEvent(t, events), nextEvent(t, events)
		if str(first.data, "sid") != sidOf(b) || str(second.data, "sid") != sidOf(c) || str(second.data, "reason") != "logout" {
			t.Fatalf("replay after %s: %+v %+v", ev.id, first, second)
		}
		n1, _ := strconv.ParseInt(ev.id, 10, 64)
		n2, _ := strconv.ParseInt(first.id, 10, 64)
		n3, _ := strconv.ParseInt(second.id, 10, 64)
		if !(n1 < n2 && n2 < n3) {
			t.Fatalf("ids are not increasing: %s %s %s", ev.id, first.id, second.id)
		}
		// ?after= resumes the same way.
		byQuery, closeQuery := s.openFeed(t, service, "", "?after="+first.id)
		defer closeQuery()
		if got := nextEvent(t, byQuery); str(got.data, "sid") != sidOf(c) {
			t.Fatalf("?after= replay: %+v", got)
		}
	})
}
