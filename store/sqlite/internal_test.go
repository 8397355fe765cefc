package sqlite

import (
	"bytes"
	"context"
	"net/netip"
	"path/filepath"
	"testing"
)

func TestPrefixRange(t *testing.T) {
	b := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	for _, c := range []struct {
		prefix, lo, hi string
	}{
		{"203.0.113.7/32", "::ffff:203.0.113.7", "::ffff:203.0.113.7"},
		{"203.0.113.77/24", "::ffff:203.0.113.0", "::ffff:203.0.113.255"},
		{"10.0.0.0/9", "::ffff:10.0.0.0", "::ffff:10.127.255.255"},
		{"0.0.0.0/0", "::ffff:0.0.0.0", "::ffff:255.255.255.255"},
		{"::ffff:203.0.113.0/120", "::ffff:203.0.113.0", "::ffff:203.0.113.255"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::1/128", "2001:db8::1", "2001:db8::1"},
		{"2001:db8:8000::/33", "2001:db8:8000::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		lo, hi := prefixRange(netip.MustParsePrefix(c.prefix))
		if !bytes.Equal(lo, b(c.lo)) || !bytes.Equal(hi, b(c.hi)) {
			t.Errorf("%s: got %x..%x, want %s..%s", c.prefix, lo, hi, c.lo, c.hi)
		}
	}
}

func TestLikeContains(t *testing.T) {
	for in, want := range map[string]string{
		"Alice":   "%alice%",
		"100%":    `%100\%%`,
		"a_b":     `%a\_b%`,
		`c:\dir`:  `%c:\\dir%`,
		`\%_`:     `%\\\%\_%`,
		"O'Hara;": "%o'hara;%",
	} {
		if got := likeContains(in); got != want {
			t.Errorf("likeContains(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []struct {
		key int64
		id  string
	}{{0, ""}, {-5, "x"}, {1741608000000000, "id:with:colons"}, {42, "ünïcode/+="}} {
		key, id, err := decodeCursor(encodeCursor(c.key, c.id))
		if err != nil || key != c.key || id != c.id {
			t.Errorf("round trip of %v: %d %q %v", c, key, id, err)
		}
	}
	for _, bad := range []string{"", "!!!", "bm9jb2xvbg", "YWJjOmRlZg"} { // "nocolon", "abc:def"
		if _, _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted a cursor the store did not make", bad)
		}
	}
}

func TestOpenConfiguresConnections(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "a", "b", "sm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, db := range map[string]sqlQuerier{"write": s.write, "read": s.read} {
		var mode string
		var fk, timeout int
		if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s: journal_mode %q %v", name, mode, err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("%s: foreign_keys %d %v", name, fk, err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout); err != nil || timeout < 1000 {
			t.Errorf("%s: busy_timeout %d %v", name, timeout, err)
		}
	}
	if _, err := s.read.ExecContext(ctx, `DELETE FROM settings`); err == nil {
		t.Error("the read pool accepted a write")
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n, last int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || last != ms[len(ms)-1].version {
		t.Errorf("schema_migrations: %d rows up to %d, want %d up to %d", n, last, len(ms), ms[len(ms)-1].version)
	}
}
