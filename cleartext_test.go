package sessionmanager_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/risk"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
)

// codeMailer keeps the challenge codes the Manager sends (the email
// itself goes through real SMTP in cmd/sessionmanager's tests).
type codeMailer struct{ codes []string }

func (c *codeMailer) SendChallengeCode(_ context.Context, m sm.ChallengeCodeMail) error {
	c.codes = append(c.codes, m.Code)
	return nil
}

// withChallenges gives the Manager the risk engine and the email factor.
func withChallenges(mail *codeMailer) func(*sm.Config) {
	return func(c *sm.Config) { c.Risk, c.ChallengeMailer = risk.New(), mail }
}

// challengeSecrets runs a challenged login (a new browser under
// newDevice: challenge) through a wrong and a right code and lists its
// secrets: the challenge id and both codes (as JSON strings: a bare six
// digits could appear by chance).
func challengeSecrets(t *testing.T, e *env, mail *codeMailer) []string {
	t.Helper()
	if _, err := e.m.UpdateSettings(e.ctx, []byte(`{"actions":{"newDevice":"challenge"}}`)); err != nil {
		t.Fatal(err)
	}
	id := sm.ExternalIdentity{ExternalID: "ext-1", Email: "cleo@example.com", Username: "cleo"}
	if _, err := e.m.StartExternalSession(e.ctx, id, client); err != nil {
		t.Fatal(err)
	}
	firefox := sm.ClientInfo{IP: client.IP, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"}
	_, err := e.m.StartExternalSession(e.ctx, id, firefox)
	var ce *sm.Error
	if !errors.As(err, &ce) || ce.Challenge == nil {
		t.Fatalf("new browser: %v, want a challenge", err)
	}
	if _, err := e.m.SendChallengeCode(e.ctx, ce.Challenge.ID, sm.MethodEmail, firefox); err != nil {
		t.Fatal(err)
	}
	// The stored code is a keyed hash, not the digits (which, as a blob,
	// would not be quoted in a dump).
	stored, err := e.store.ChallengeByHash(e.ctx, e.secrets.LookupHash("challenge:"+ce.Challenge.ID))
	if err != nil || len(stored.CodeHash) != 32 || bytes.Contains(stored.CodeHash, []byte(mail.codes[0])) {
		t.Fatalf("stored code: %x, %v", stored.CodeHash, err)
	}
	wrong := "000000"
	if mail.codes[0] == wrong {
		wrong = "111111"
	}
	if _, err := e.m.VerifyChallenge(e.ctx, ce.Challenge.ID, sm.Proof{Method: sm.MethodEmail, Code: wrong, Client: firefox}); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := e.m.VerifyChallenge(e.ctx, ce.Challenge.ID, sm.Proof{Method: sm.MethodEmail, Code: mail.codes[0], Client: firefox}); err != nil {
		t.Fatal(err)
	}
	return []string{ce.Challenge.ID, `"` + mail.codes[0] + `"`, `"` + wrong + `"`}
}

// secretsOf lists every issued secret of a login+refresh run.
func secretsRun(t *testing.T, e *env) []string {
	reg := e.register("zoe")
	r1, err := e.m.Refresh(e.ctx, reg.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}
	login := e.login("zoe")
	plain, _, err := sm.NewAdminToken(e.ctx, e.store, e.secrets, "ci", sm.ScopeRead, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Account tokens: the sign-up's confirmation and a reset code.
	if reg.Confirmation == nil {
		t.Fatal("the sign-up has no confirmation token")
	}
	reset, err := e.m.IssuePasswordReset(e.ctx, "zoe@example.com", client)
	if err != nil || reset == nil {
		t.Fatalf("reset: %v", err)
	}
	if err := e.m.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	return []string{reg.AccessToken, reg.RefreshToken, r1.AccessToken, r1.RefreshToken, login.AccessToken, login.RefreshToken, plain,
		reg.Confirmation.Token, reset.Token,
		"a long enough password",
		// The JWT signature alone is as good as the token for a forger's replay.
		reg.AccessToken[strings.LastIndexByte(reg.AccessToken, '.')+1:]}
}

func TestNoTokenInClearInSQLiteFile(t *testing.T) {
	mail := &codeMailer{}
	e := newEnv(t, storeKinds[0], withChallenges(mail))
	secrets := append(secretsRun(t, e), challengeSecrets(t, e, mail)...)
	// Checkpoint the WAL so everything is in files we read (we read the WAL too).
	e.store.Close()
	var all []byte
	matches, _ := filepath.Glob(e.path + "*")
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) < 4096 {
		t.Fatalf("read only %d bytes from %v", len(all), matches)
	}
	for _, s := range secrets {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("secret %q... found in clear in the SQLite files", s[:10])
		}
	}
}

func TestNoTokenInClearInPostgres(t *testing.T) {
	url := testenv.PostgresSchema(t)
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	k := storeKind{"postgres", func(testing.TB) (storetest.Store, string) { return st, "" }}
	mail := &codeMailer{}
	e := newEnv(t, k, withChallenges(mail))
	secrets := append(secretsRun(t, e), challengeSecrets(t, e, mail)...)
	conn, err := pgx.Connect(e.ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(e.ctx)
	rows, err := conn.Query(e.ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	var dump strings.Builder
	for _, tbl := range tables {
		rows, err := conn.Query(e.ctx, `SELECT row_to_json(t)::text FROM `+pgx.Identifier{tbl}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			dump.WriteString(l)
		}
	}
	if dump.Len() < 1000 {
		t.Fatalf("dump too small: %d bytes", dump.Len())
	}
	for _, s := range secrets {
		if strings.Contains(dump.String(), s) {
			t.Errorf("secret %q... found in clear in Postgres", s[:10])
		}
	}
}
