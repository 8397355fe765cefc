package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// shortTokens makes access tokens live 3s (below what SM_ACCESS_TOKEN_TTL
// accepts), so a retired key's expiry, TTL plus a grace of the same
// length, comes within seconds, and the JWKS max-age 1s, so a rotated-in
// key signs 5.5s after it is published (max-age + reload 1.5s + grace).
func shortTokens(c *config) {
	c.AccessTokenTTL, c.JWKSMaxAge = 3*time.Second, time.Second
}

// startWithApp starts a server with short tokens and returns its wired app.
func startWithApp(t *testing.T, env map[string]string) (*server, *app) {
	t.Helper()
	apps := make(chan *app, 1)
	s := startServerWith(t, env, shortTokens, func(_ context.Context, a *app) { apps <- a })
	return s, <-apps
}

// kidOf is the key id in an access token's header.
func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	jwtPart(t, jwt, 0, &h)
	return h.Kid
}

// iatOf is the issue time in an access token's claims.
func iatOf(t *testing.T, jwt string) time.Time {
	t.Helper()
	var c struct {
		Iat int64 `json:"iat"`
	}
	jwtPart(t, jwt, 1, &c)
	return time.Unix(c.Iat, 0)
}

// jwtPart decodes part i (0 header, 1 claims) of a JWT into v.
func jwtPart(t *testing.T, jwt string, i int, v any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("JWT part %d: %v", i, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// jwksKids are the key ids s publishes.
func (s *server) jwksKids() []string {
	s.t.Helper()
	resp, err := http.Get(s.base + "/.well-known/jwks.json")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		s.t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// waitFor polls cond; the deadline only bounds a failing test. It returns
// how long cond took to hold.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after 30s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func (s *server) login(t *testing.T, user string) string {
	t.Helper()
	code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": user, "password": "correct horse battery"})
	if code != 200 || str(out, "jwt") == "" {
		t.Fatalf("login on %s: %d %v", s.base, code, out)
	}
	return str(out, "jwt")
}

// rotationEvents are the signing_key.rotated events of the audit log.
func (s *server) rotationEvents(t *testing.T, bearer string) []map[string]any {
	t.Helper()
	return s.listAll("/api/admin/audit?type=signing_key.rotated&order=asc", bearer)
}

// TestSigningKeyRotationAcrossInstances forces a rotation on instance A
// and checks, on every instance: a token signed before still verifies, the
// JWKS lists both keys, new tokens carry the new kid and verify everywhere,
// the rotation is audited, and once the old key has expired (TTL + grace)
// the JWKS drops it and its tokens are refused. Two instances on
// PostgreSQL + Redis (the new key reaches B on the bus), and SQLite alone.
func TestSigningKeyRotationAcrossInstances(t *testing.T) {
	t.Run("postgres+redis", func(t *testing.T) {
		env := sharedEnv(t)
		a, appA := startWithApp(t, maps.Clone(env))
		b, _ := startWithApp(t, maps.Clone(env))
		checkRotation(t, appA, a, b)
	})
	t.Run("sqlite", func(t *testing.T) {
		a, appA := startWithApp(t, map[string]string{"SM_LOG_LEVEL": "warn"})
		checkRotation(t, appA, a)
	})
}

// sharedEnv is the environment of instances sharing one PostgreSQL schema
// and Redis; give each instance its own copy (startServer adds its port).
func sharedEnv(t *testing.T) map[string]string {
	return map[string]string{"DATABASE_URL": testenv.PostgresSchema(t), "SESSION_ENCRYPTION_KEY": token.GenerateKey(),
		"REDIS_URL": testenv.RedisURL(t), "SM_REDIS_PREFIX": testenv.Name("msmtest:") + ":", "SM_LOG_LEVEL": "warn"}
}

func checkRotation(t *testing.T, leader *app, nodes ...*server) {
	a := nodes[0]
	if code, _, out := a.call("POST", "/api/auth/local/register", "", map[string]any{"username": "rot", "email": "rot@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, out)
	}
	before := a.login(t, "rot")
	oldKid := kidOf(t, before)

	rot, err := leader.rotator.RotateNow(context.Background(), token.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	rotatedAt := time.Now()
	if rot.NewKeyID == oldKid || !slices.Contains(rot.RetiredKeyIDs, oldKid) {
		t.Fatalf("rotation %+v from %s", rot, oldKid)
	}
	for _, s := range nodes {
		if code := get(t, s.base+"/api/auth/verify", before); code != 200 {
			t.Fatalf("%s refuses a token signed before the rotation: %d", s.base, code)
		}
	}
	// Every instance publishes the next key: the others first, so the wait
	// measures how fast the bus brings it to them.
	for i := len(nodes) - 1; i >= 0; i-- {
		s := nodes[i]
		waitFor(t, s.base+" publishes the new key", func() bool {
			kids := s.jwksKids()
			return slices.Contains(kids, rot.NewKeyID) && slices.Contains(kids, oldKid)
		})
		t.Logf("instance %d publishes the new key %v after the rotation (it signs %v after)", i, time.Since(rotatedAt), rot.SignsFrom.Sub(rotatedAt))
	}
	// Every instance signs with the old key before SignsFrom and with the
	// new one from then on (iat is to the second), without a reload.
	for i, s := range nodes {
		var after string
		waitFor(t, "instance signs with the new key", func() bool {
			after = s.login(t, "rot")
			switch kid, iat := kidOf(t, after), iatOf(t, after); {
			case kid == oldKid && !iat.Before(rot.SignsFrom):
				t.Fatalf("instance %d signs with the old key at %v, after the switch %v", i, iat, rot.SignsFrom)
			case kid == rot.NewKeyID && iat.Before(rot.SignsFrom.Truncate(time.Second)):
				t.Fatalf("instance %d signs with the new key at %v, before its start %v", i, iat, rot.SignsFrom)
			case kid != oldKid && kid != rot.NewKeyID:
				t.Fatalf("instance %d signs with %s", i, kid)
			}
			return kidOf(t, after) == rot.NewKeyID
		})
		for _, v := range nodes {
			if code := get(t, v.base+"/api/auth/verify", after); code != 200 {
				t.Fatalf("%s refuses a token of the new key: %d", v.base, code)
			}
		}
	}
	events := a.rotationEvents(t, a.adminToken("read"))
	if len(events) != 1 || str(events[0], "actorType") != "system" {
		t.Fatalf("rotation audit events: %v", events)
	}
	if data, _ := events[0]["data"].(map[string]any); str(data, "newKeyId") != rot.NewKeyID || str(data, "trigger") != "manual" {
		t.Fatalf("rotation audit data: %v", events[0]["data"])
	}

	// The old key expires TTL+grace (6s) after the switch.
	for _, s := range nodes {
		waitFor(t, s.base+" drops the expired key", func() bool { return !slices.Contains(s.jwksKids(), oldKid) })
		if code := get(t, s.base+"/api/auth/verify", before); code != 401 {
			t.Fatalf("%s accepts a token of an expired key: %d", s.base, code)
		}
		if kids := s.jwksKids(); !slices.Contains(kids, rot.NewKeyID) {
			t.Fatalf("%s no longer publishes the new key: %v", s.base, kids)
		}
	}
}

// TestScheduledRotationRunsOnTheLeader runs two instances (PostgreSQL +
// Redis) that rotate every second: only the leader rotates, so no key is
// ever retired twice and every rotation makes one new key; each is
// audited as the system's, and every instance follows.
func TestScheduledRotationRunsOnTheLeader(t *testing.T) {
	env := sharedEnv(t)
	// A 2s lead (the JWKS max-age 100ms + reload 1.5s is the least).
	everySecond := func(c *config) {
		c.SigningKeyRotation, c.AccessTokenTTL, c.JWKSMaxAge, c.SigningKeyLead = time.Second, 3*time.Second, 100*time.Millisecond, 2*time.Second
	}
	a := startServerWith(t, maps.Clone(env), everySecond, nil)
	b := startServerWith(t, maps.Clone(env), everySecond, nil)
	read := a.adminToken("read")
	var events []map[string]any
	waitFor(t, "three scheduled rotations", func() bool {
		events = a.rotationEvents(t, read)
		return len(events) >= 3
	})
	retired := map[string]bool{}
	created := map[string]bool{}
	for _, e := range events {
		data, _ := e["data"].(map[string]any)
		if str(e, "actorType") != "system" || str(data, "trigger") != "schedule" {
			t.Fatalf("scheduled rotation event %v", e)
		}
		newKid := str(data, "newKeyId")
		if created[newKid] {
			t.Fatalf("key %s created twice", newKid)
		}
		created[newKid] = true
		for _, k := range data["retiredKeyIds"].([]any) {
			if retired[k.(string)] {
				t.Fatalf("key %s retired by two rotations: two instances rotated at once", k)
			}
			retired[k.(string)] = true
		}
	}
	// Both instances publish the newest key within the grace.
	last := str(events[len(events)-1]["data"].(map[string]any), "newKeyId")
	for _, s := range []*server{a, b} {
		waitFor(t, s.base+" publishes "+last, func() bool { return slices.Contains(s.jwksKids(), last) })
	}
}

// keyStatus runs `keys list` and returns each key's status.
func keyStatus(t *testing.T, getenv func(string) string) map[string]string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keys", "list"}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			status[f[0]] = f[1]
		}
	}
	return status
}

// TestKeysCommand rotates through `sessionmanager keys rotate` while an
// instance runs on PostgreSQL: the command announces the rotation on the
// Postgres bus, the instance signs with the new key, the old token still
// verifies, and `keys list` shows both; `keys withdraw` then makes the old
// key's tokens fail at once.
func TestKeysCommand(t *testing.T) {
	env := postgresEnv(t)
	env["SESSION_ENCRYPTION_KEY"] = token.GenerateKey()
	env["SM_LOG_LEVEL"] = "warn"
	s := startServer(t, env)
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keys", "--help"}, getenv, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "keys rotate") {
		t.Fatalf("keys --help: %v %q", err, out.String())
	}
	// A key id may start with "-" (base64url): it names a key, never a flag.
	if err := run(context.Background(), []string{"keys", "withdraw", "-NoSuchKeyId"}, getenv, nil, io.Discard, io.Discard); err == nil ||
		strings.Contains(err.Error(), "flag provided but not defined") {
		t.Fatalf("keys withdraw -NoSuchKeyId: %v, want an unknown-key refusal", err)
	}
	if code, _, body := s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "cli", "email": "cli@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, body)
	}
	before := s.login(t, "cli")
	oldKid := kidOf(t, before)
	// `keys rotate` publishes the next key; it signs after the lead (6m30s
	// with the command's defaults), so the instance keeps the old one.
	out.Reset()
	if err := run(context.Background(), []string{"keys", "rotate"}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	nextKid, ok := strings.CutPrefix(strings.SplitN(out.String(), "\n", 2)[0], "new signing key ")
	if !ok || !strings.Contains(out.String(), "published now, signs from ") || !strings.Contains(out.String(), "retired "+oldKid) {
		t.Fatalf("keys rotate printed %q", out.String())
	}
	took := waitFor(t, "the instance publishes the next key", func() bool { return slices.Contains(s.jwksKids(), nextKid) })
	t.Logf("the running instance publishes the next key %v after `keys rotate`", took)
	if kid := kidOf(t, s.login(t, "cli")); kid != oldKid {
		t.Fatalf("the instance signs with %s during the lead, want %s", kid, oldKid)
	}
	if status := keyStatus(t, getenv); status[nextKid] != "next" || status[oldKid] != "signing" {
		t.Fatalf("keys list during the lead: %v", status)
	}
	if err := run(context.Background(), []string{"keys", "rotate"}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("a second `keys rotate` while a key waits succeeded")
	}
	if err := run(context.Background(), []string{"keys", "withdraw", nextKid}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("keys withdraw of the next key succeeded")
	}
	// The emergency: --now signs at once and replaces the waiting key.
	out.Reset()
	if err := run(context.Background(), []string{"keys", "rotate", "--now"}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("keys rotate --now: %v", err)
	}
	newKid, ok := strings.CutPrefix(strings.SplitN(out.String(), "\n", 2)[0], "new signing key ")
	if !ok || !strings.Contains(out.String(), "retired "+oldKid) || !strings.Contains(out.String(), "retired "+nextKid) {
		t.Fatalf("keys rotate --now printed %q", out.String())
	}
	took = waitFor(t, "the instance signs with the key the command made", func() bool { return kidOf(t, s.login(t, "cli")) == newKid })
	t.Logf("the running instance signs with the new key %v after `keys rotate --now`", took)
	if code := get(t, s.base+"/api/auth/verify", before); code != 200 {
		t.Fatalf("token signed before `keys rotate`: %d", code)
	}
	if status := keyStatus(t, getenv); status[newKid] != "signing" || status[oldKid] != "retired" || status[nextKid] != "retired" {
		t.Fatalf("keys list: %v", status)
	}
	read := s.adminToken("read")
	events := s.rotationEvents(t, read)
	if len(events) != 2 || str(events[0]["data"].(map[string]any), "trigger") != "manual" ||
		events[0]["data"].(map[string]any)["immediate"] != false || events[1]["data"].(map[string]any)["immediate"] != true {
		t.Fatalf("audit events of `keys rotate`: %v", events)
	}

	// The old key leaked: withdraw it. The signing key cannot be withdrawn.
	if err := run(context.Background(), []string{"keys", "withdraw", newKid}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("keys withdraw of the signing key succeeded")
	}
	if err := run(context.Background(), []string{"keys", "withdraw", kidOf(t, before)}, getenv, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("keys withdraw: %v", err)
	}
	took = waitFor(t, "the instance refuses a withdrawn key's token", func() bool { return get(t, s.base+"/api/auth/verify", before) == 401 })
	t.Logf("the running instance refuses the withdrawn key's tokens %v after `keys withdraw`", took)
	if kids := s.jwksKids(); slices.Contains(kids, kidOf(t, before)) || !slices.Contains(kids, newKid) {
		t.Fatalf("JWKS after the withdrawal: %v", kids)
	}
	if status := keyStatus(t, getenv); status[oldKid] != "withdrawn" {
		t.Fatalf("keys list after the withdrawal: %v", status)
	}
	if w := s.listAll("/api/admin/audit?type=signing_key.withdrawn", read); len(w) != 1 || str(w[0], "actorType") != "system" {
		t.Fatalf("audit events of `keys withdraw`: %v", w)
	}
	for _, bad := range [][]string{{"keys"}, {"keys", "spin"}, {"keys", "rotate", "now"}, {"keys", "withdraw"}, {"keys", "withdraw", "a", "b"}} {
		var ce *configError
		if err := run(context.Background(), bad, getenv, nil, io.Discard, io.Discard); !asConfigError(err, &ce) {
			t.Errorf("%v: err = %v, want a configuration error", bad, err)
		}
	}
}

func TestSigningKeyRotationConfig(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		bad   bool
	}{
		{"", 720 * time.Hour, false},
		{"2160h", 2160 * time.Hour, false},
		{"off", 0, false},
		{"0", 0, false},
		{"30m", 0, true},
		{"monthly", 0, true},
		{"-720h", 0, true},
	} {
		env := map[string]string{"SM_SIGNING_KEY_ROTATION": tc.value}
		c, err := loadConfig(func(k string) string { return env[k] }, nil)
		if tc.bad {
			var ce *configError
			if !asConfigError(err, &ce) || !strings.Contains(err.Error(), "SM_SIGNING_KEY_ROTATION") {
				t.Errorf("%q: err = %v, want a configuration error naming SM_SIGNING_KEY_ROTATION", tc.value, err)
			}
			continue
		}
		if err != nil || c.SigningKeyRotation != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.value, c, err, tc.want)
		}
	}
}
