package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// TestAlertRuleAdminOverAPI: the API's rule endpoints go through the core's
// typed rule admin (sm.AlertRules behind Manager.AlertRules): the answers
// keep their shapes with secrets masked, a bad body is a 400 naming where,
// and every change is audited exactly once, naming the token.
func TestAlertRuleAdminOverAPI(t *testing.T) {
	s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
	write := s.adminToken("write")
	const secret = "whsec-admin-api-test"
	code, _, body := s.call("POST", "/api/admin/alerts/rules", write, map[string]any{
		"name": "Tor", "triggers": []string{"tor"},
		"channels": []map[string]any{{"type": "webhook", "url": "https://203.0.113.10/hook", "secret": secret}},
	})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	rule, _ := body["data"].(map[string]any)
	id := str(rule, "id")
	ch := rule["channels"].([]any)[0].(map[string]any)
	if id == "" || rule["enabled"] != true || str(ch, "secret") != "********" || ch["sealedSecret"] != nil {
		t.Fatalf("created rule: %v", rule)
	}
	code, _, body = s.call("PUT", "/api/admin/alerts/rules/"+id, write, `{"name": "Tor", "enabled": "yes"}`)
	if f := fieldsOf(body); code != 400 || !strings.Contains(str(f, "body"), "line 1, column") || !strings.Contains(str(f, "body"), "enabled") {
		t.Fatalf("a bad body: %d %v", code, body)
	}
	rule["name"], rule["enabled"] = "Tor exits", false
	if code, _, body = s.call("PUT", "/api/admin/alerts/rules/"+id, write, rule); code != 200 || str(body["data"].(map[string]any), "name") != "Tor exits" {
		t.Fatalf("update with the masked secret: %d %v", code, body)
	}
	if code, _, body = s.call("DELETE", "/api/admin/alerts/rules/"+id, write, nil); code != 204 {
		t.Fatalf("delete: %d %v", code, body)
	}
	if code, _, _ = s.call("DELETE", "/api/admin/alerts/rules/"+id, write, nil); code != 404 {
		t.Fatalf("delete twice: %d", code)
	}
	var actions []string
	for _, e := range s.listAll("/api/admin/audit?type=admin.action", write) {
		d, _ := e["data"].(map[string]any)
		if a := str(d, "action"); strings.HasPrefix(a, "alert_") {
			actions = append(actions, a+" by "+str(e, "actorId")+" on "+str(d, "rule"))
		}
	}
	want := []string{"alert_rule.create", "alert_rule.update", "alert_rule.delete"}
	for i := range want {
		want[i] += " by token:t-write on " + id
	}
	slices.Sort(actions)
	slices.Sort(want)
	if !slices.Equal(actions, want) {
		t.Fatalf("audited %v, want %v", actions, want)
	}
}
