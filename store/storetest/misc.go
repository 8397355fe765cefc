package storetest

import (
	"errors"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var settingsTests = []namedTest{{"GetPut", testSettings}}

var keyTests = []namedTest{{"CreateListUpdate", testSigningKeys}}

var adminTests = []namedTest{
	{"Accounts", testAdmins},
	{"Tokens", testAdminTokens},
	{"Password", testAdminPassword},
	{"Sessions", testAdminSessions},
	{"ConcurrentSessionEnd", testConcurrentAdminSessionEnd},
	{"TeamRoles", testTeamRoles},
	{"LastOwnerConcurrent", testLastOwnerConcurrent},
	{"AdminAccessConcurrent", testAdminAccessConcurrent},
	{"AdminInvitesPending", testAdminInvitesPending},
	{"Invites", testAdminInvites},
	{"AdminRecoveryCodes", testAdminRecoveryCodes},
}

var magicLinkTests = []namedTest{{"ConsumeReasons", testMagicLinks}}

func testSettings(t *testing.T, s Store) {
	ctx := t.Context()
	requireCode(t, second(s.GetSetting(ctx, sessionmanager.SettingsKey)), sessionmanager.ENOTFOUND, "no document yet")
	doc := []byte(`{"scoreThreshold": 40,  "allowedCountries":["DE"]}`)
	noErr(t, s.PutSetting(ctx, sessionmanager.SettingsKey, doc))
	got, err := s.GetSetting(ctx, sessionmanager.SettingsKey)
	noErr(t, err)
	equal(t, string(doc), string(got), "stored byte-exact")
	noErr(t, s.PutSetting(ctx, sessionmanager.SettingsKey, []byte(`{"scoreThreshold":10}`)))
	got, err = s.GetSetting(ctx, sessionmanager.SettingsKey)
	noErr(t, err)
	equal(t, `{"scoreThreshold":10}`, string(got), "put replaces")
	noErr(t, s.PutSetting(ctx, "rules", []byte(`[]`)))
	got, err = s.GetSetting(ctx, sessionmanager.SettingsKey)
	noErr(t, err)
	equal(t, `{"scoreThreshold":10}`, string(got), "keys are separate")
}

func testSigningKeys(t *testing.T, s Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	noErr(t, err)
	check(t, len(keys) == 0, "no keys yet")
	k1 := &sessionmanager.SigningKey{ID: "k1", Algorithm: "EdDSA", PrivateSealed: []byte{1, 2, 3}, Public: []byte{4, 5, 6}, CreatedAt: t0}
	k2 := &sessionmanager.SigningKey{ID: "k2", Algorithm: "EdDSA", PrivateSealed: []byte{7}, Public: []byte{8}, CreatedAt: t0.Add(time.Hour)}
	noErr(t, s.CreateSigningKey(ctx, k2))
	noErr(t, s.CreateSigningKey(ctx, k1))
	requireCode(t, s.CreateSigningKey(ctx, &sessionmanager.SigningKey{ID: "k1", Algorithm: "EdDSA", CreatedAt: t0}), sessionmanager.ECONFLICT, "duplicate id")

	retired, expires := t0.Add(2*time.Hour), t0.Add(48*time.Hour)
	noErr(t, s.UpdateSigningKey(ctx, "k1", retired, expires))
	keys, err = s.ListSigningKeys(ctx)
	noErr(t, err)
	check(t, len(keys) == 2, "two keys: %d", len(keys))
	byID := map[string]sessionmanager.SigningKey{}
	for _, k := range keys {
		byID[k.ID] = *k
	}
	want1 := *k1
	want1.RetiredAt, want1.ExpiresAt = retired, expires
	equal(t, want1, byID["k1"], "retired key")
	equal(t, *k2, byID["k2"], "active key")
	requireCode(t, s.UpdateSigningKey(ctx, "nope", retired, expires), sessionmanager.ENOTFOUND, "missing key")
}

func testAdmins(t *testing.T, s Store) {
	ctx := t.Context()
	n, err := s.CountAdmins(ctx)
	noErr(t, err)
	equal(t, 0, n)
	a := &sessionmanager.Admin{ID: "a-1", Email: "Root@Example.com", PasswordHash: "$argon2id$admin", CreatedAt: t0}
	noErr(t, s.CreateAdmin(ctx, a))
	noErr(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-2", Email: "ops@example.com", CreatedAt: t0}))
	requireCode(t, s.CreateAdmin(ctx, &sessionmanager.Admin{ID: "a-3", Email: "root@example.COM", CreatedAt: t0}), sessionmanager.ECONFLICT, "email in other case")
	n, err = s.CountAdmins(ctx)
	noErr(t, err)
	equal(t, 2, n)

	got, err := s.AdminByEmail(ctx, "ROOT@example.com")
	noErr(t, err)
	equal(t, *a, *got, "by email, case-insensitive")
	got, err = s.AdminByID(ctx, "a-1")
	noErr(t, err)
	equal(t, *a, *got, "by id")

	noErr(t, s.SetAdminTOTP(ctx, "a-1", []byte("sealed-totp")))
	got, err = s.AdminByID(ctx, "a-1")
	noErr(t, err)
	equal(t, []byte("sealed-totp"), got.TOTPSealed)
	noErr(t, s.SetAdminTOTP(ctx, "a-1", nil))
	got, err = s.AdminByID(ctx, "a-1")
	noErr(t, err)
	check(t, len(got.TOTPSealed) == 0, "TOTP off")

	requireCode(t, second(s.AdminByID(ctx, "nope")), sessionmanager.ENOTFOUND, "missing id")
	requireCode(t, second(s.AdminByEmail(ctx, "nobody@example.com")), sessionmanager.ENOTFOUND, "missing email")
	requireCode(t, s.SetAdminTOTP(ctx, "nope", []byte("x")), sessionmanager.ENOTFOUND, "totp of missing admin")
}

func testAdminTokens(t *testing.T, s Store) {
	ctx := t.Context()
	tok := &sessionmanager.AdminToken{ID: "t-1", Name: "ci", Hash: hashOf("token-1"), Scope: sessionmanager.ScopeWrite, CreatedAt: t0}
	noErr(t, s.CreateAdminToken(ctx, tok))
	noErr(t, s.CreateAdminToken(ctx, &sessionmanager.AdminToken{ID: "t-2", Name: "svc", Hash: hashOf("token-2"), Scope: sessionmanager.ScopeService, CreatedAt: t0.Add(time.Second)}))
	requireCode(t, s.CreateAdminToken(ctx, &sessionmanager.AdminToken{ID: "t-3", Hash: hashOf("token-1"), CreatedAt: t0}), sessionmanager.ECONFLICT, "duplicate hash")

	got, err := s.AdminTokenByHash(ctx, hashOf("token-1"))
	noErr(t, err)
	equal(t, *tok, *got, "by hash")
	used := t0.Add(time.Hour)
	noErr(t, s.TouchAdminToken(ctx, "t-1", used))
	got, err = s.AdminTokenByHash(ctx, hashOf("token-1"))
	noErr(t, err)
	equal(t, used, got.LastUsedAt, "last used")

	revoked := t0.Add(2 * time.Hour)
	noErr(t, s.RevokeAdminToken(ctx, "t-1", revoked))
	requireCode(t, second(s.AdminTokenByHash(ctx, hashOf("token-1"))), sessionmanager.ENOTFOUND, "a revoked token is not found")
	list, err := s.ListAdminTokens(ctx)
	noErr(t, err)
	check(t, len(list) == 2, "list keeps revoked tokens: %d", len(list))
	for _, x := range list {
		if x.ID == "t-1" {
			equal(t, revoked, x.RevokedAt, "revoked at")
		} else {
			check(t, x.ID == "t-2" && x.RevokedAt.IsZero() && x.Scope == sessionmanager.ScopeService, "other token: %+v", x)
		}
	}
	_, err = s.AdminTokenByHash(ctx, hashOf("token-2"))
	noErr(t, err, "another token still works")
	requireCode(t, second(s.AdminTokenByHash(ctx, hashOf("unknown"))), sessionmanager.ENOTFOUND, "unknown hash")
	requireCode(t, s.TouchAdminToken(ctx, "nope", used), sessionmanager.ENOTFOUND, "touch missing")
	requireCode(t, s.RevokeAdminToken(ctx, "nope", used), sessionmanager.ENOTFOUND, "revoke missing")
}

// requireLinkReason fails unless err is EINVALID with the reason and a message.
func requireLinkReason(t *testing.T, err error, reason string, what ...any) {
	t.Helper()
	requireCode(t, err, sessionmanager.EINVALID, what...)
	var e *sessionmanager.Error
	check(t, errors.As(err, &e) && e.Reason == reason && e.Message != "", "%s: want reason %s with a message, got %v", label(what), reason, err)
}

func testMagicLinks(t *testing.T, s Store) {
	ctx := t.Context()
	link := &sessionmanager.MagicLink{Hash: hashOf("ok"), Email: "alice@example.com", UserID: "u-1", IP: "203.0.113.5",
		CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
	noErr(t, s.CreateMagicLink(ctx, link))
	noErr(t, s.CreateMagicLink(ctx, &sessionmanager.MagicLink{Hash: hashOf("old"), Email: "bob@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	requireCode(t, s.CreateMagicLink(ctx, &sessionmanager.MagicLink{Hash: hashOf("ok"), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}), sessionmanager.ECONFLICT, "duplicate hash")

	now := t0.Add(5 * time.Minute)
	got, err := s.ConsumeMagicLink(ctx, hashOf("ok"), now)
	noErr(t, err)
	want := *link
	want.UsedAt = now
	equal(t, want, *got, "consumed link")
	_, err = s.ConsumeMagicLink(ctx, hashOf("ok"), now)
	requireLinkReason(t, err, "link_used", "second use")
	_, err = s.ConsumeMagicLink(ctx, hashOf("old"), now)
	requireLinkReason(t, err, "link_expired", "expired link")
	_, err = s.ConsumeMagicLink(ctx, hashOf("old"), t0.Add(time.Minute))
	requireLinkReason(t, err, "link_expired", "a link is expired at its expiry instant")
	_, err = s.ConsumeMagicLink(ctx, hashOf("never"), now)
	requireLinkReason(t, err, "link_unknown", "unknown link")
	_, err = s.ConsumeMagicLink(ctx, hashOf("old"), t0.Add(time.Minute-time.Microsecond))
	noErr(t, err, "a link is valid until just before its expiry")
}
