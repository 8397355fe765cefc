package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAuditPage: the filter reads the API's vocabulary plus the form's
// datetime-local times; a bad value is a 400 page naming the field (also
// for the export, never a half download); the export streams the filter
// as CSV; "verify chain" needs the CSRF token and reports an intact chain.
func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.client()
	c.signIn()

	resp, body := c.get("/admin/audit?type=login.succeeded&from=2020-01-01T00:00")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `value="2020-01-01T00:00"`) || !strings.Contains(body, `data-type="login.succeeded"`) || strings.Contains(body, `data-type="user.registered"`) {
		t.Fatalf("filtered page: %d", resp.StatusCode)
	}
	if !strings.Contains(body, `href="/admin/audit/export?format=csv&amp;from=2020-01-01T00%3A00%3A00Z&amp;type=login.succeeded"`) {
		t.Errorf("the CSV link does not carry the canonical filter")
	}
	for raw, field := range map[string]string{"ip=nope": "ip", "from=yesterday": "from", "seq=-1": "seq"} {
		resp, body := c.get("/admin/audit?" + raw)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<code>"+field+"</code>") {
			t.Errorf("%s: %d, field not named", raw, resp.StatusCode)
		}
	}
	if resp, _ := c.get("/admin/audit/export?format=xml"); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("bad export format: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	resp, body = c.get("/admin/audit/export?format=csv&type=login.succeeded&from=2020-01-01T00:00")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(lines) < 2 || !strings.HasSuffix(lines[0], ",actor") {
		t.Fatalf("CSV export: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",login.succeeded,") {
			t.Errorf("export row outside the filter: %s", l)
		}
	}

	// Verify chain: a form post with the CSRF token only.
	if resp, _ := c.do(http.MethodPost, "/admin/audit/verify", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("verify without CSRF: %d", resp.StatusCode)
	}
	c.get("/admin/audit")
	resp, body = c.post("/admin/audit/verify?type=login.succeeded", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `data-ok="true"`) || !strings.Contains(body, "Chain intact") {
		t.Fatalf("verify: %d", resp.StatusCode)
	}

}
