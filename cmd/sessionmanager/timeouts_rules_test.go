package main

import (
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// TestSessionTimeoutsAtRuntime: the session timeouts are settings that
// override the environment through PUT /api/admin/settings: GET says which
// value is in force and where it comes from, a bad value is a 400 naming
// the setting (nothing stored), a stored absolute lifetime applies to the
// next session, a stored idle end is applied by the sweep, and null gives
// a timeout back to the environment.
func TestSessionTimeoutsAtRuntime(t *testing.T) {
	manual := manualClock()
	s := startServerOn(t, map[string]string{"SM_INACTIVITY_TIMEOUT": "20m"}, manual)
	write := s.adminToken("write")
	timeouts := func(body map[string]any) map[string]any {
		t.Helper()
		meta, _ := body["meta"].(map[string]any)
		tt, _ := meta["sessionTimeouts"].(map[string]any)
		if tt == nil {
			t.Fatalf("no meta.sessionTimeouts in %v", body)
		}
		return tt
	}
	inForce := func(tt map[string]any, name string) (value, source, env string) {
		one, _ := tt[name].(map[string]any)
		return str(one, "value"), str(one, "source"), str(one, "env")
	}
	code, _, body := s.call("GET", "/api/admin/settings", write, nil)
	if code != 200 {
		t.Fatalf("get settings: %d %v", code, body)
	}
	if v, src, env := inForce(timeouts(body), "inactivityTimeout"); v != "20m0s" || src != "environment" || env != "SM_INACTIVITY_TIMEOUT" {
		t.Fatalf("inactivityTimeout in force: %s from %s (%s)", v, src, env)
	}
	if v, src, _ := inForce(timeouts(body), "idleTimeout"); v != "0s" || src != "environment" {
		t.Fatalf("idleTimeout in force: %s from %s", v, src)
	}
	if data, _ := body["data"].(map[string]any); data["inactivityTimeout"] != nil {
		t.Fatalf("no stored inactivityTimeout yet: %v", data)
	}

	code, _, body = s.call("PUT", "/api/admin/settings", write, map[string]any{"inactivityTimeout": "5m", "idleTimeout": "10m", "maxSessionAge": "2h"})
	if code != 200 {
		t.Fatalf("put timeouts: %d %v", code, body)
	}
	if v, src, _ := inForce(timeouts(body), "inactivityTimeout"); v != "5m0s" || src != "settings" {
		t.Fatalf("inactivityTimeout after PUT: %s from %s", v, src)
	}

	for _, bad := range []struct {
		patch map[string]any
		field string
	}{
		{map[string]any{"idleTimeout": "3h"}, "idleTimeout"},             // longer than the 2h lifetime
		{map[string]any{"inactivityTimeout": "1s"}, "inactivityTimeout"}, // shorter than the last-seen interval
		{map[string]any{"retention": "10m"}, "retention"},
		{map[string]any{"maxSessionAge": "nonsense"}, "maxSessionAge"},
		{map[string]any{"maxSessionAge": "1m"}, "maxSessionAge"}, // shorter than an access token
		{map[string]any{"idleTimeout": "-5m"}, "idleTimeout"},
	} {
		code, _, body := s.call("PUT", "/api/admin/settings", write, bad.patch)
		if f := fieldsOf(body); code != 400 || str(f, bad.field) == "" {
			t.Errorf("PUT %v: %d %v, want a 400 naming %s", bad.patch, code, body, bad.field)
		}
	}
	_, _, body = s.call("GET", "/api/admin/settings", write, nil)
	if v, _, _ := inForce(timeouts(body), "idleTimeout"); v != "10m0s" {
		t.Fatalf("a refused PUT changed idleTimeout to %s", v)
	}

	// The stored lifetime applies to the next session.
	if code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "tia", "email": "tia@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	s.login(t, "tia")
	checkLifetimes(t, s, write, 2*time.Hour)

	// The stored idle end (10m) is applied by the sweep.
	deadline := time.Now().Add(60 * time.Second)
	for {
		manual.clock.Advance(time.Minute)
		live := s.listAll("/api/admin/sessions?status=active,inactive", write)
		if len(live) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions still live after the stored idle end: %v", live)
		}
	}
	ended := s.listAll("/api/admin/sessions?status=ended", write)
	if len(ended) == 0 || str(ended[0], "endReason") != "idle" {
		t.Fatalf("ended sessions: %v", ended)
	}

	// null gives the timeout back to the environment.
	code, _, body = s.call("PUT", "/api/admin/settings", write, map[string]any{"inactivityTimeout": nil})
	if v, src, _ := inForce(timeouts(body), "inactivityTimeout"); code != 200 || v != "20m0s" || src != "environment" {
		t.Fatalf("after null: %d %s from %s", code, v, src)
	}
}

// TestTryAlertRuleOnRecordedEvent: POST /api/admin/alerts/rules/{id}/try
// says whether a rule would fire on a recorded login event and why (its
// triggers, its condition run in the evaluator process), delivers nothing,
// and answers 400/404 naming the field for what a client gets wrong.
func TestTryAlertRuleOnRecordedEvent(t *testing.T) {
	s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	write, read := s.adminToken("write"), s.adminToken("read")
	if code, _, out := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "otto", "email": "otto@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	s.login(t, "otto")
	logins := s.listAll("/api/admin/audit?type=login.succeeded", write)
	if len(logins) == 0 {
		t.Fatal("no login.succeeded event")
	}
	seq := logins[0]["seq"]
	channels := []map[string]any{{"type": "webhook", "url": "https://203.0.113.10/hook", "secret": "whsec-try-rule-on-event"}}
	rule := func(body map[string]any) string {
		t.Helper()
		body["channels"] = channels
		code, _, out := s.call("POST", "/api/admin/alerts/rules", write, body)
		if code != 201 {
			t.Fatalf("create %v: %d %v", body, code, out)
		}
		return str(out["data"].(map[string]any), "id")
	}
	// Created after the login: only a trial could make them deliver.
	fires := rule(map[string]any{"name": "otto signs in", "condition": `event.user.email === "otto@example.com" && event.type === "login.succeeded"`})
	quiet := rule(map[string]any{"name": "someone else", "condition": `event.user.username === "nobody"`})
	tor := rule(map[string]any{"name": "tor", "triggers": []string{"tor"}})
	throws := rule(map[string]any{"name": "throws", "condition": `event.nothing.here`})
	off := rule(map[string]any{"name": "off", "enabled": false, "condition": `true`})

	try := func(id string, body any) (int, map[string]any) {
		t.Helper()
		code, _, out := s.call("POST", "/api/admin/alerts/rules/"+id+"/try", read, body)
		return code, out
	}
	for _, c := range []struct {
		id, name, condition, reason string
		fires                       bool
	}{
		{fires, "otto signs in", "true", "its condition returned true", true},
		{quiet, "someone else", "false", "its condition returned false", false},
		{tor, "tor", "none", "none of its triggers (tor) matches this event", false},
		{throws, "throws", "error", "condition failed", false},
		{off, "off", "true", "the rule is disabled", false},
	} {
		code, out := try(c.id, map[string]any{"eventSeq": seq})
		d, _ := out["data"].(map[string]any)
		if code != 200 || d["fires"] != c.fires || str(d, "condition") != c.condition || !strings.Contains(str(d, "reason"), c.reason) || str(d, "ruleName") != c.name {
			t.Errorf("try %s: %d %v", c.name, code, out)
		}
		if ev, _ := d["event"].(map[string]any); code == 200 && ev["seq"] != seq {
			t.Errorf("try %s: event %v, want seq %v", c.name, ev, seq)
		}
	}
	if ds := s.listAll("/api/admin/alerts/deliveries", write); len(ds) != 0 {
		t.Fatalf("a trial delivered: %v", ds)
	}

	admin := s.listAll("/api/admin/audit?type=admin.action", write)
	for _, bad := range []struct {
		id     string
		body   any
		status int
		field  string
	}{
		{fires, map[string]any{}, 400, "eventSeq"},
		{fires, `not json`, 400, "eventSeq"},
		{fires, map[string]any{"eventSeq": 0}, 400, "eventSeq"},
		{fires, map[string]any{"eventSeq": 999999}, 404, "eventSeq"},
		{fires, map[string]any{"eventSeq": admin[0]["seq"]}, 400, "eventSeq"}, // not a login event
		{"no-such-rule", map[string]any{"eventSeq": seq}, 404, ""},
	} {
		code, out := try(bad.id, bad.body)
		if code != bad.status || (bad.field != "" && str(fieldsOf(out), bad.field) == "") {
			t.Errorf("try %s %v: %d %v, want %d naming %q", bad.id, bad.body, code, out, bad.status, bad.field)
		}
	}
}

// TestSessionTimeoutsReachEveryInstance: a timeout stored through one
// instance is in force on the other (PostgreSQL + Redis) without a
// restart: its GET says so and its next session has the stored lifetime.
func TestSessionTimeoutsReachEveryInstance(t *testing.T) {
	db, key, redisURL := testenv.PostgresSchema(t), token.GenerateKey(), testenv.RedisURL(t)
	prefix := testenv.Name("msmtimeouts:") + ":"
	env := func() map[string]string {
		return map[string]string{"DATABASE_URL": db, "SESSION_ENCRYPTION_KEY": key, "REDIS_URL": redisURL, "SM_REDIS_PREFIX": prefix}
	}
	a, b := startServer(t, env()), startServer(t, env())
	writeA, readB := a.adminToken("write"), b.adminToken("read")
	if code, _, body := a.call("PUT", "/api/admin/settings", writeA, map[string]any{"maxSessionAge": "3h"}); code != 200 {
		t.Fatalf("put on A: %d %v", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, body := b.call("GET", "/api/admin/settings", readB, nil)
		meta, _ := body["meta"].(map[string]any)
		tt, _ := meta["sessionTimeouts"].(map[string]any)
		one, _ := tt["maxSessionAge"].(map[string]any)
		if str(one, "value") == "3h0m0s" && str(one, "source") == "settings" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never had the stored lifetime: %v", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, out := b.call("POST", "/api/auth/local/register", "", map[string]any{"username": "uma", "email": "uma@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register on B: %d %v", code, out)
	}
	checkLifetimes(t, b, readB, 3*time.Hour)
}

// checkLifetimes fails unless s has an active session and each lives want
// (expiresAt - createdAt).
func checkLifetimes(t *testing.T, s *server, bearer string, want time.Duration) {
	t.Helper()
	sessions := s.listAll("/api/admin/sessions?status=active", bearer)
	if len(sessions) == 0 {
		t.Fatalf("no active session on %s", s.base)
	}
	for _, sess := range sessions {
		created, _ := time.Parse(time.RFC3339Nano, str(sess, "createdAt"))
		expires, _ := time.Parse(time.RFC3339Nano, str(sess, "expiresAt"))
		if got := expires.Sub(created); got != want {
			t.Fatalf("a session on %s lives %s, want the stored %s", s.base, got, want)
		}
	}
}
