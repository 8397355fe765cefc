package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestRuleBuilderForm: the builder's fields read as a rule; a channel
// whose type is left empty is dropped, and the core's errors about the
// rule's channels[k] land on the form's channel they came from; a bad
// low-score bound is named.
func TestRuleBuilderForm(t *testing.T) {
	form := url.Values{
		"name": {" Tor "}, "enabled": {"on"}, "trigger": {"tor", "vpn", "tor"}, "lowScoreBelow": {"30"},
		"channels.0.type": {""}, "channels.0.url": {"https://removed.example"},
		"channels.1.type": {"email"}, "channels.1.to": {"a@example.com, b@example.com\r\nc@example.com"},
		"channels.2.type": {"webhook"}, "channels.2.url": {"https://203.0.113.10/hook"}, "channels.2.secret": {"short"},
	}
	r := httptest.NewRequest("POST", "/admin/settings/rules", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_ = r.ParseForm()
	rule, idx, bad := ruleFromBuilder(r)
	if len(bad) != 0 || rule.Name != "Tor" || !rule.Enabled || strings.Join(rule.Triggers, ",") != "tor,vpn" || rule.LowScoreBelow == nil || *rule.LowScoreBelow != 30 {
		t.Fatalf("rule %+v, bad %v", rule, bad)
	}
	if len(rule.Channels) != 2 || strings.Join(rule.Channels[0].To, ",") != "a@example.com,b@example.com,c@example.com" || rule.Channels[1].Secret != "short" {
		t.Fatalf("channels %+v", rule.Channels)
	}
	got := formFields(map[string]string{"channels[1].secret": "at least 16 characters", "name": "x"}, idx)
	if got["channels[2].secret"] != "at least 16 characters" || got["name"] != "x" || len(got) != 2 {
		t.Fatalf("errors on the form: %v", got)
	}
	form.Set("lowScoreBelow", "abc")
	r = httptest.NewRequest("POST", "/admin/settings/rules", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_ = r.ParseForm()
	if _, _, bad := ruleFromBuilder(r); bad["lowScoreBelow"] == "" {
		t.Fatalf("a bad bound is not named: %v", bad)
	}
}
