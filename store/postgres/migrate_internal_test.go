package postgres

import (
	"slices"
	"testing"
)

// TestMigrationVacuum: migration 0020 rewrites sessions and indexes users
// for index-only lookups, so it names both tables to vacuum once it commits (migrate runs VACUUM for each name; a
// failed VACUUM fails the migration, so TestMigrationISPColumn's reopen
// runs it), and only the directive's lines count.
func TestMigrationVacuum(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		want := []string(nil)
		if m.version == 20 {
			want = []string{"sessions", "users"}
		}
		if !slices.Equal(m.vacuum, want) {
			t.Errorf("migration %04d vacuums %q, want %q", m.version, m.vacuum, want)
		}
	}
	got := vacuumTables("-- vacuum after: a, b\nSELECT 1; -- vacuum after: c\n  -- vacuum after:d\n-- vacuum after:\n")
	if !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("vacuumTables = %q, want [a b d]", got)
	}
}
