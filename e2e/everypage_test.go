package e2e

import (
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
)

// TestBrowserRemainingPagesAccessible runs the accessibility check and the
// screenshots (CheckPage) on the pages no other browser test checks: the
// overview, the users list, a user's page, analytics, data sources, an
// error page and the sign-in page, on `sessionmanager demo`'s data.
func TestBrowserRemainingPagesAccessible(t *testing.T) {
	s := startServer(t, "demo", nil)
	ctx := browsertest.Chrome(t)
	browserSignIn(t, ctx, s.base, "demo@localhost", "demo password")
	if err := browsertest.Until(ctx, `document.querySelectorAll('#sessions-table [data-session]').length > 5`, 30*time.Second); err != nil {
		t.Fatalf("no demo sessions: %v", err)
	}
	userURL := evalJS[string](t, ctx, `(document.querySelector('#sessions-table .cell-user a') || {}).href || ""`)
	if userURL == "" {
		t.Fatal("no user link in the demo table")
	}
	for _, p := range []struct{ name, url, ready string }{
		{"home", s.base + "/admin/", "main"},
		{"users", s.base + "/admin/users", "main table"},
		{"user", userURL, "main"},
		{"analytics", s.base + "/admin/analytics", "main"},
		{"data", s.base + "/admin/data", "main"},
		{"error-404", s.base + "/admin/sessions/no-such-session", "main"},
	} {
		navigate(t, ctx, p.url, p.ready)
		browsertest.CheckPage(t, ctx, p.name)
	}
	signOut(t, ctx)
	browsertest.CheckPage(t, ctx, "login")
}
