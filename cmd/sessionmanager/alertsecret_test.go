package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestChatWebhookSecretNotShown: a Slack webhook's URL is its secret. When
// sends to it fail (a closed port), the secret part is in none of the
// places an admin or a read-scope token sees, nor in the server's log: the
// outbox's lastError, the answer of a test alert over the API, the
// dashboard's rule test page.
func TestChatWebhookSecretNotShown(t *testing.T) {
	const secret = "SlackSecretPart0123456789"
	hook := "http://" + testenv.FreeAddr(t) + "/services/T0001/B0001/" + secret // nothing listens there
	s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	write, read := s.adminToken("write"), s.adminToken("read")
	code, _, body := s.call("POST", "/api/admin/alerts/rules", write, map[string]any{
		"name": "every login", "enabled": true, "condition": "true",
		"channels": []map[string]any{{"type": "slack", "url": hook}},
	})
	if code != 201 {
		t.Fatalf("rule: %d %v", code, body)
	}
	ruleID := str(body["data"].(map[string]any), "id")
	s.call("POST", "/api/auth/local/register", "", map[string]any{"username": "otto", "email": "otto@example.com", "password": "correct horse battery"})
	if code, _, out := s.call("POST", "/api/auth/local", "", map[string]any{"identifier": "otto", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	var lastError string
	testenv.Eventually(t, "a failed delivery", func() bool {
		for _, d := range s.listAll("/api/admin/alerts/deliveries", read) {
			if lastError = str(d, "lastError"); lastError != "" {
				return true
			}
		}
		return false
	})
	if strings.Contains(lastError, secret) || !strings.Contains(lastError, "connection refused") {
		t.Errorf("lastError: %s", lastError)
	}

	code, _, body = s.call("POST", "/api/admin/alerts/test", write, map[string]any{"channel": map[string]any{"type": "slack", "url": hook}})
	if code != 503 || strings.Contains(toJSON(body), secret) {
		t.Errorf("test alert: %d %v", code, body)
	}
	code, page := s.dashboardPostPage("/admin/settings/rules/"+ruleID+"/test", url.Values{})
	if code != 400 || !strings.Contains(page, "test alert failed") || strings.Contains(page, secret) {
		t.Errorf("dashboard rule test: %d, secret shown or failure not: %v", code, strings.Contains(page, secret))
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, "alert delivery failed") || !strings.Contains(logs, "/api/admin/alerts/test") {
		t.Errorf("the failures are not logged: %s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the secret is in the log: %s", logs)
	}
}
