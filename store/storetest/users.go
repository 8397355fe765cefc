package storetest

import (
	"errors"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

var userTests = []namedTest{
	{"CreateAndRead", testUserCreateRead},
	{"Duplicates", testUserDuplicates},
	{"Update", testUserUpdate},
	{"ListSearchAndCursor", testUserList},
	{"IdentityKeyUnique", testUserIdentityKey},
	{"Confirmed", testUserConfirmed},
	{"PasswordCompareAndSwap", testUserPasswordCAS},
	{"SpendTokens", testUserSpendTokens},
}

// testUserIdentityKey: uniqueness and lookup go through IdentityKey, so a
// name that only looks like a taken one (full width, Cyrillic or Greek
// look-alike letters, invisible characters) is a duplicate, and finds the
// one account.
func testUserIdentityKey(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	for name, u := range map[string]*sessionmanager.User{
		"full-width username":    {ID: "u-2", Email: "a2@example.com", Username: "ａｌｉｃｅ", CreatedAt: t0},
		"Cyrillic username":      {ID: "u-3", Email: "a3@example.com", Username: "аӏісе", CreatedAt: t0},
		"zero-width in username": {ID: "u-4", Email: "a4@example.com", Username: "al\u200bice", CreatedAt: t0},
		"Greek in username":      {ID: "u-5", Email: "a5@example.com", Username: "\u03b1lice", CreatedAt: t0},
		"full-width email":       {ID: "u-6", Email: "ａlice@example.com", Username: "other6", CreatedAt: t0},
		"Cyrillic in email":      {ID: "u-7", Email: "\u0430lice@example.com", Username: "other7", CreatedAt: t0},
		"bidi in email":          {ID: "u-8", Email: "alice\u202e@example.com", Username: "other8", CreatedAt: t0},
	} {
		requireCode(t, s.CreateUser(ctx, u), sessionmanager.ECONFLICT, name)
	}
	for _, id := range []string{"ＡＬＩＣＥ", "аӏісе", "ａlice@example.com", "AL\u200bICE@EXAMPLE.COM"} {
		u, err := s.UserByIdentifier(ctx, id)
		noErr(t, err, "lookup %q", id)
		check(t, u.ID == "u-1", "lookup %q found %s", id, u.ID)
	}
	// The raw form is kept as it was given.
	newUser(t, s, "u-9", "zoe@example.com", "ｚｏｅ")
	u, err := s.UserByIdentifier(ctx, "zoe")
	noErr(t, err)
	check(t, u.ID == "u-9" && u.Username == "ｚｏｅ", "raw username: %+v", u)
	other := "ZOE"
	_, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{Username: &other})
	requireCode(t, err, sessionmanager.ECONFLICT, "rename to a look-alike of another user")
}

// testUserConfirmed: Confirmed and PasswordUnproven are stored, read and updated.
func testUserConfirmed(t *testing.T, s Store) {
	ctx := t.Context()
	noErr(t, s.CreateUser(ctx, &sessionmanager.User{ID: "u-1", Email: "a@example.com", Username: "a", Confirmed: true, CreatedAt: t0, UpdatedAt: t0}))
	newUser(t, s, "u-2", "b@example.com", "b")
	a, err := s.UserByID(ctx, "u-1")
	noErr(t, err)
	b, err := s.UserByID(ctx, "u-2")
	noErr(t, err)
	check(t, a.Confirmed && !b.Confirmed, "confirmed: %v %v", a.Confirmed, b.Confirmed)
	yes := true
	b, err = s.UpdateUser(ctx, "u-2", sessionmanager.UserUpdate{Confirmed: &yes})
	noErr(t, err)
	check(t, b.Confirmed && b.PasswordHash != "", "confirmed by update, the rest kept: %+v", b)
	b, err = s.UpdateUser(ctx, "u-2", sessionmanager.UserUpdate{PasswordUnproven: &yes})
	noErr(t, err)
	check(t, b.PasswordUnproven && b.Confirmed, "password unproven by update: %+v", b)
	noErr(t, s.CreateUser(ctx, &sessionmanager.User{ID: "u-3", Email: "c@example.com", Username: "c", PasswordHash: "$x", PasswordUnproven: true, CreatedAt: t0, UpdatedAt: t0}))
	c, err := s.UserByID(ctx, "u-3")
	noErr(t, err)
	check(t, c.PasswordUnproven && !c.Confirmed, "password unproven at creation: %+v", c)
}

func testUserCreateRead(t *testing.T, s Store) {
	ctx := t.Context()
	want := &sessionmanager.User{
		ID: "u-1", Email: "Alice@Example.com", Username: "AliceW", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		ExternalID: "ext-42", Blocked: true, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute),
		PasswordChangedAt: t0.Add(123456 * time.Microsecond),
	}
	noErr(t, s.CreateUser(ctx, want))
	newUser(t, s, "u-2", "bob@example.com", "bob")

	for _, c := range []struct {
		name string
		get  func() (*sessionmanager.User, error)
	}{
		{"by id", func() (*sessionmanager.User, error) { return s.UserByID(ctx, "u-1") }},
		{"by email, other case", func() (*sessionmanager.User, error) { return s.UserByIdentifier(ctx, "aLICE@example.COM") }},
		{"by username, other case", func() (*sessionmanager.User, error) { return s.UserByIdentifier(ctx, "alicew") }},
		{"by external id", func() (*sessionmanager.User, error) { return s.UserByExternalID(ctx, "ext-42") }},
	} {
		got, err := c.get()
		noErr(t, err, c.name)
		equal(t, *want, *got, c.name)
	}

	// A user without a password change or update time reads them back zero.
	bob, err := s.UserByIdentifier(ctx, "BOB")
	noErr(t, err)
	check(t, bob.ID == "u-2" && bob.PasswordChangedAt.IsZero() && bob.ExternalID == "", "bob: %+v", bob)

	for name, err := range map[string]error{
		"missing id":          second(s.UserByID(ctx, "nope")),
		"missing identifier":  second(s.UserByIdentifier(ctx, "nobody@example.com")),
		"missing external id": second(s.UserByExternalID(ctx, "ext-0")),
		"empty identifier":    second(s.UserByIdentifier(ctx, "")),
		"empty external id":   second(s.UserByExternalID(ctx, "")),
	} {
		requireCode(t, err, sessionmanager.ENOTFOUND, name)
	}
}

func testUserDuplicates(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	for name, u := range map[string]*sessionmanager.User{
		"same id":                {ID: "u-1", Email: "x@example.com", Username: "x", CreatedAt: t0},
		"email in other case":    {ID: "u-2", Email: "ALICE@example.com", Username: "other", CreatedAt: t0},
		"username in other case": {ID: "u-3", Email: "other@example.com", Username: "Alice", CreatedAt: t0},
	} {
		requireCode(t, s.CreateUser(ctx, u), sessionmanager.ECONFLICT, name)
	}
	_, err := s.UserByID(ctx, "u-2")
	requireCode(t, err, sessionmanager.ENOTFOUND, "a conflicting user is not stored")
}

func testUserUpdate(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")

	email, blocked, hash := "Alice.New@Example.com", true, "$argon2id$new"
	changed := t0.Add(2 * time.Hour)
	got, err := s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{
		Email: &email, Blocked: &blocked, PasswordHash: &hash, PasswordChangedAt: &changed, UpdatedAt: changed,
	})
	noErr(t, err)
	want := sessionmanager.User{ID: "u-1", Email: email, Username: "alice", PasswordHash: hash, Blocked: true,
		CreatedAt: t0, UpdatedAt: changed, PasswordChangedAt: changed}
	equal(t, want, *got, "returned user")
	read, err := s.UserByIdentifier(ctx, "alice.new@example.com")
	noErr(t, err)
	equal(t, want, *read, "stored user")
	_, err = s.UserByIdentifier(ctx, "alice@example.com")
	requireCode(t, err, sessionmanager.ENOTFOUND, "the old email no longer finds the user")

	unblock := false
	got, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{Blocked: &unblock})
	noErr(t, err)
	check(t, !got.Blocked && got.Email == email && got.PasswordHash == hash, "nil fields stay: %+v", got)

	taken := "BOB@example.com"
	_, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{Email: &taken})
	requireCode(t, err, sessionmanager.ECONFLICT, "email of another user")
	takenName := "Bob"
	_, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{Username: &takenName})
	requireCode(t, err, sessionmanager.ECONFLICT, "username of another user")
	_, err = s.UpdateUser(ctx, "nope", sessionmanager.UserUpdate{Blocked: &blocked})
	requireCode(t, err, sessionmanager.ENOTFOUND, "missing user")
}

func testUserList(t *testing.T, s Store) {
	ctx := t.Context()
	names := []string{"alice", "albert", "bob", "carol", "under_score", "dave", "Alfred"}
	for i, n := range names {
		u := &sessionmanager.User{ID: "u-" + n, Email: n + "@example.com", Username: n + "-name",
			CreatedAt: t0.Add(time.Duration(i%3) * time.Minute), Blocked: n == "bob" || n == "dave"}
		noErr(t, s.CreateUser(ctx, u))
	}
	listAll := func(f sessionmanager.UserFilter, pageSize int) []string {
		t.Helper()
		f.Limit = pageSize
		var ids []string
		seen := map[string]bool{}
		for range 100 {
			us, next, err := s.ListUsers(ctx, f)
			noErr(t, err, "list users %+v", f)
			check(t, len(us) <= max(pageSize, 1) || (pageSize == 0 && len(us) <= 50), "page larger than the limit")
			for _, u := range us {
				check(t, !seen[u.ID], "user %s listed twice", u.ID)
				seen[u.ID] = true
				ids = append(ids, u.ID)
			}
			if next == "" {
				return sorted(ids)
			}
			f.Cursor = next
		}
		t.Fatal("ListUsers never ended")
		return nil
	}
	all := sorted([]string{"u-alice", "u-albert", "u-bob", "u-carol", "u-under_score", "u-dave", "u-Alfred"})
	equal(t, all, listAll(sessionmanager.UserFilter{}, 2), "all users, pages of 2")
	equal(t, all, listAll(sessionmanager.UserFilter{}, 0), "all users, default limit")
	yes, no := true, false
	for _, c := range []struct {
		name string
		f    sessionmanager.UserFilter
		want []string
	}{
		{"search email substring, other case", sessionmanager.UserFilter{Search: "AL"}, []string{"u-Alfred", "u-albert", "u-alice"}},
		{"search username", sessionmanager.UserFilter{Search: "carol-NAME"}, []string{"u-carol"}},
		{"underscore is literal", sessionmanager.UserFilter{Search: "_"}, []string{"u-under_score"}},
		{"percent is literal", sessionmanager.UserFilter{Search: "%"}, []string{}},
		{"blocked", sessionmanager.UserFilter{Blocked: &yes}, []string{"u-bob", "u-dave"}},
		{"not blocked and search", sessionmanager.UserFilter{Blocked: &no, Search: "ED"}, []string{"u-Alfred"}},
		{"search across email and username", sessionmanager.UserFilter{Search: "example.comcarol"}, []string{}},
		{"search across email and username, separated", sessionmanager.UserFilter{Search: "example.com\x1fcarol"}, []string{}},
		{"search with a separator never matches", sessionmanager.UserFilter{Search: "\x1f"}, []string{}},
	} {
		equal(t, sorted(c.want), listAll(c.f, 1), c.name)
	}
	// The searched names follow a change of name.
	renamed, email := "caroline-new", "CAROLINE@example.net"
	_, err := s.UpdateUser(ctx, "u-carol", sessionmanager.UserUpdate{Username: &renamed, Email: &email})
	noErr(t, err, "rename carol")
	equal(t, []string{}, listAll(sessionmanager.UserFilter{Search: "carol-name"}, 1), "search the old username")
	equal(t, []string{}, listAll(sessionmanager.UserFilter{Search: "carol@example.com"}, 1), "search the old email")
	equal(t, []string{"u-carol"}, listAll(sessionmanager.UserFilter{Search: "line-NEW"}, 1), "search the new username")
	equal(t, []string{"u-carol"}, listAll(sessionmanager.UserFilter{Search: "caroline@EXAMPLE.NET"}, 1), "search the new email")
	_, _, err = s.ListUsers(ctx, sessionmanager.UserFilter{Cursor: "not a cursor!"})
	requireCode(t, err, sessionmanager.EINVALID, "a cursor the store did not make")
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

// testUserPasswordCAS: a password write conditional on the hash read
// (IfPasswordHash) lands only while that hash is still stored. The attack
// it closes: an attacker who pre-registered the victim's email reads the
// hash, the owner proves the email (voiding the password), and the
// attacker's change, computed before, must not land afterwards.
func testUserPasswordCAS(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "victim@example.com", "victim")
	attacker, unproven := "$argon2id$attacker", true
	_, err := s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{PasswordHash: &attacker, PasswordUnproven: &unproven, UpdatedAt: t0})
	noErr(t, err)
	read := attacker // what the attacker's change-password read

	// The owner's proof voids the password (over the hash it read).
	none, no, yes := "", false, true
	proved, err := s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{PasswordHash: &none, PasswordUnproven: &no, Confirmed: &yes,
		UpdatedAt: t0.Add(time.Second), IfPasswordHash: &read})
	noErr(t, err, "the proof over the current hash")
	check(t, proved.PasswordHash == "" && !proved.PasswordUnproven, "proof voided the password: %+v", proved)

	// The attacker's write, computed from the stale read, lands now.
	stale := "$argon2id$attacker2"
	_, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{PasswordHash: &stale, PasswordUnproven: &no,
		UpdatedAt: t0.Add(2 * time.Second), IfPasswordHash: &read})
	requireCode(t, err, sessionmanager.ECONFLICT, "a write over a stale hash")
	check(t, errors.Is(err, sessionmanager.ErrPasswordChanged), "the conflict is ErrPasswordChanged: %v", err)
	got, err := s.UserByID(ctx, "u-1")
	noErr(t, err)
	check(t, got.PasswordHash == "" && got.Confirmed && got.UpdatedAt.Equal(t0.Add(time.Second)), "the stale write changed nothing: %+v", got)

	// A bare compare (no field) is still a compare; a missing user is ENOTFOUND.
	_, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{IfPasswordHash: &read})
	requireCode(t, err, sessionmanager.ECONFLICT, "a bare compare over a stale hash")
	_, err = s.UpdateUser(ctx, "nope", sessionmanager.UserUpdate{PasswordHash: &stale, IfPasswordHash: &read})
	requireCode(t, err, sessionmanager.ENOTFOUND, "missing user")
}

// testUserSpendTokens: SpendTokens marks every unused link and code of the
// user used in the same operation as the update, and only that user's.
func testUserSpendTokens(t *testing.T, s Store) {
	ctx := t.Context()
	newUser(t, s, "u-1", "alice@example.com", "alice")
	newUser(t, s, "u-2", "bob@example.com", "bob")
	for _, l := range []*sessionmanager.MagicLink{
		{Hash: hashOf("a1"), Email: "alice@example.com", UserID: "u-1"},
		{Hash: hashOf("a2"), Email: "alice@example.com", UserID: "u-1"},
		{Hash: hashOf("b1"), Email: "bob@example.com", UserID: "u-2"},
	} {
		l.CreatedAt, l.ExpiresAt = t0, t0.Add(time.Hour)
		noErr(t, s.CreateMagicLink(ctx, l))
	}
	hash, read := "$argon2id$new", "$argon2id$v=19$stub-u-1"
	_, err := s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{PasswordHash: &hash, UpdatedAt: t0.Add(time.Minute), IfPasswordHash: &read, SpendTokens: true})
	noErr(t, err)
	now := t0.Add(2 * time.Minute)
	_, err = s.ConsumeMagicLink(ctx, hashOf("a1"), now)
	requireLinkReason(t, err, "link_used", "alice's first code after the change")
	_, err = s.ConsumeMagicLink(ctx, hashOf("a2"), now)
	requireLinkReason(t, err, "link_used", "alice's second code after the change")
	_, err = s.ConsumeMagicLink(ctx, hashOf("b1"), now)
	noErr(t, err, "bob's code is not alice's")

	// A refused write spends nothing.
	noErr(t, s.CreateMagicLink(ctx, &sessionmanager.MagicLink{Hash: hashOf("a3"), Email: "alice@example.com", UserID: "u-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.UpdateUser(ctx, "u-1", sessionmanager.UserUpdate{PasswordHash: &hash, IfPasswordHash: &read, SpendTokens: true})
	requireCode(t, err, sessionmanager.ECONFLICT, "stale write")
	_, err = s.ConsumeMagicLink(ctx, hashOf("a3"), now)
	noErr(t, err, "a refused write spent a code")
}
