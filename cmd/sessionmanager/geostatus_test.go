package main

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// noGeoData turns off every source that could give data without a file:
// the built-in snapshot and the feed downloads (the status must show what
// is missing whatever the build embeds).
func noGeoData(env map[string]string) map[string]string {
	env["SM_GEO_BUILTIN"] = "off"
	env["SM_THREAT_FEEDS"] = "off"
	return env
}

// warningCodes reads the codes of GET /api/admin/geo/status.
func warningCodes(t *testing.T, s *server, token string) []string {
	t.Helper()
	code, _, body := s.call("GET", "/api/admin/geo/status", token, nil)
	if code != 200 {
		t.Fatalf("geo status: %d %v", code, body)
	}
	data := must(t, body["data"].(map[string]any), body["data"] != nil, "data")
	out := []string{}
	for _, w := range data["warnings"].([]any) {
		out = append(out, str(w.(map[string]any), "code"))
	}
	return out
}

// TestGeoStatusAPI: the status lists sources, capabilities, feeds and the
// configuration warnings; warnings follow the settings; the lookup route
// exists with no geo source and says what is missing; a bad address is
// 400; each warning is logged at start and counted on /metrics.
func TestGeoStatusAPI(t *testing.T) {
	s := startServer(t, noGeoData(map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)}))
	read, write := s.adminToken("read"), s.adminToken("write")

	code, _, body := s.call("GET", "/api/admin/geo/status", read, nil)
	if code != 200 {
		t.Fatalf("geo status: %d %v", code, body)
	}
	data := body["data"].(map[string]any)
	if _, ok := data["sources"].([]any); !ok {
		t.Errorf("sources is not a list: %v", data["sources"])
	}
	caps, _ := data["capabilities"].(map[string]any)
	for _, c := range []string{"country", "city", "asn", "tor", "vpn", "proxy", "datacenter", "threat"} {
		if v, ok := caps[c].(bool); !ok || (c == "country" && v) {
			t.Errorf("capability %s: %v", c, caps[c])
		}
	}
	if feeds, ok := data["feeds"].(bool); !ok || feeds {
		t.Errorf("feeds with SM_THREAT_FEEDS=off: %v", data["feeds"])
	}
	w := warningCodes(t, s, read)
	for _, want := range []string{"no_country_data", "tor_no_data", "threat_no_data"} {
		if !slices.Contains(w, want) {
			t.Errorf("warnings %v lack %s", w, want)
		}
	}
	for _, w := range data["warnings"].([]any) {
		w := w.(map[string]any)
		if str(w, "message") == "" || (w["variables"] == nil && str(w, "setting") == "") {
			t.Errorf("warning without message or fix: %v", w)
		}
	}
	if !strings.Contains(s.stderr.String(), "configuration: No source provides country data") ||
		!strings.Contains(s.stderr.String(), `"code":"tor_no_data"`) {
		t.Errorf("no WARN line at start for each warning:\n%s", s.stderr.String())
	}

	// Warnings appear and disappear as the settings change.
	if code, _, out := s.call("PUT", "/api/admin/settings", write, `{"allowedCountries":["DE"]}`); code != 200 {
		t.Fatalf("allow list: %d %v", code, out)
	}
	if w := warningCodes(t, s, read); !slices.Contains(w, "geofence_no_country_data") {
		t.Fatalf("no warning for an allow list without country data: %v", w)
	}
	if code, _, out := s.call("PUT", "/api/admin/settings", write,
		`{"allowedCountries":[],"actions":{"tor":"allow","vpn":"allow","proxy":"allow","datacenter":"allow","threat":"allow"}}`); code != 200 {
		t.Fatalf("policies off: %d %v", code, out)
	}
	w = warningCodes(t, s, read)
	for _, gone := range []string{"geofence_no_country_data", "tor_no_data", "vpn_no_data", "threat_no_data"} {
		if slices.Contains(w, gone) {
			t.Errorf("warning %s stays after the setting that needed the data went: %v", gone, w)
		}
	}

	// X-Forwarded-For from an untrusted peer becomes a warning.
	s.forwardedFor("203.0.113.50")
	if w := warningCodes(t, s, read); !slices.Contains(w, "untrusted_forwarded_for") {
		t.Fatalf("no warning for X-Forwarded-For from an untrusted peer: %v", w)
	}

	// The lookup exists with no geo source; "status" is not taken for an address.
	code, _, body = s.call("GET", "/api/admin/geo/8.8.8.8", read, nil)
	if code != 200 {
		t.Fatalf("lookup without geo data: %d %v", code, body)
	}
	look := body["data"].(map[string]any)
	missing, _ := look["missing"].([]any)
	if look["ip"] != "8.8.8.8" || look["found"] != false || look["public"] != true || !slices.Contains(missing, any("country")) {
		t.Fatalf("lookup without geo data: %v", look)
	}
	if code, _, body = s.call("GET", "/api/admin/geo/10.1.2.3", read, nil); code != 200 || body["data"].(map[string]any)["public"] != false {
		t.Fatalf("private address: %d %v", code, body)
	}
	for _, bad := range []string{"not-an-ip", "999.1.1.1", "fe80::1%25eth0"} {
		code, _, body := s.call("GET", "/api/admin/geo/"+bad, read, nil)
		if code != 400 || fieldsOf(body)["ip"] == nil {
			t.Errorf("GET /api/admin/geo/%s: %d %v", bad, code, body)
		}
	}

	// /metrics counts the warnings.
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `msm_config_warnings{code="no_country_data"} 1`) {
		t.Errorf("/metrics lacks the warning gauge:\n%s", grepLines(string(metrics), "msm_config"))
	}
}

// forwardedFor sends a request with X-Forwarded-For from this (untrusted)
// test client.
func (s *server) forwardedFor(addr string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/healthz", nil)
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lockedSettings are the settings a Free install would store and ignore,
// with the feature and edition the refusal names.
var lockedSettings = []struct{ patch, feature, edition string }{
	{`{"allowedCountries":["DE"]}`, "geofence", "advanced"},
	{`{"blockedCountries":["RU"]}`, "geofence", "advanced"},
	{`{"actions":{"geofence":"alert"}}`, "geofence", "advanced"},
	{`{"actions":{"tor":"alert"}}`, "threat", "advanced"},
	{`{"actions":{"vpn":"block"}}`, "blocking", "advanced"},
	{`{"actions":{"proxy":"block"}}`, "blocking", "advanced"},
	{`{"actions":{"datacenter":"alert"}}`, "threat", "advanced"},
	{`{"actions":{"threat":"alert"}}`, "threat", "advanced"},
	{`{"actions":{"lowScore":"block"}}`, "blocking", "advanced"},
	{`{"geoLookupFailure":"block"}`, "blocking", "advanced"},
	{`{"newSignInEmail":true}`, "alerts", "advanced"},
	{`{"scoreThreshold":60}`, "risk", "premium"},
	{`{"weights":{"new_country":30}}`, "risk", "premium"},
	{`{"impossibleTravelKmh":800}`, "risk", "premium"},
	{`{"travelMinDistanceKm":100}`, "risk", "premium"},
	{`{"failedLoginsAccount":3}`, "risk", "premium"},
	{`{"failedLoginsIp":50}`, "risk", "premium"},
}

// TestLockedFeaturesRefused: on a Free install every locked setting and
// alert rule is refused with 403 feature_locked naming the feature and
// the edition, and nothing is stored; an Advanced install accepts them.
func TestLockedFeaturesRefused(t *testing.T) {
	rule := func(enabled bool, condition string) map[string]any {
		r := map[string]any{"name": "r", "enabled": enabled, "triggers": []string{"new_country"},
			"channels": []map[string]any{{"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "whsec-locked-test"}}}
		if condition != "" {
			r["condition"] = condition
		}
		return r
	}
	t.Run("free", func(t *testing.T) {
		s := startServer(t, nil)
		write := s.adminToken("write")
		_, _, before := s.call("GET", "/api/admin/settings", write, nil)
		for _, c := range lockedSettings {
			code, _, body := s.call("PUT", "/api/admin/settings", write, c.patch)
			d, _ := body["error"].(map[string]any)["details"].(map[string]any)
			if code != 403 || d["reason"] != "feature_locked" || d["feature"] != c.feature || d["edition"] != c.edition {
				t.Errorf("PUT %s on Free: %d %v", c.patch, code, body)
			}
		}
		_, _, after := s.call("GET", "/api/admin/settings", write, nil)
		if string(mustJSON(before)) != string(mustJSON(after)) {
			t.Errorf("refused settings were stored:\n%v\n%v", before, after)
		}
		// A Free setting is still accepted.
		if code, _, body := s.call("PUT", "/api/admin/settings", write, `{"maxSessionsPerUser":3}`); code != 200 {
			t.Errorf("free setting: %d %v", code, body)
		}
		for _, c := range []struct {
			rule             map[string]any
			feature, edition string
		}{
			{rule(true, ""), "alerts", "advanced"},
			{rule(false, "event.score < 50"), "custom_conditions", "advanced"},
		} {
			code, _, body := s.call("POST", "/api/admin/alerts/rules", write, c.rule)
			d, _ := body["error"].(map[string]any)["details"].(map[string]any)
			if code != 403 || d["reason"] != "feature_locked" || d["feature"] != c.feature || d["edition"] != c.edition {
				t.Errorf("rule %v on Free: %d %v", c.rule, code, body)
			}
		}
		if _, _, body := s.call("GET", "/api/admin/alerts/rules", write, nil); len(body["data"].([]any)) != 0 {
			t.Errorf("a refused rule was stored: %v", body)
		}
	})
	t.Run("advanced", func(t *testing.T) {
		s := startServer(t, map[string]string{"LICENSE_KEY": testLicense(t, license.EditionAdvanced)})
		write := s.adminToken("write")
		for _, c := range lockedSettings {
			if code, _, body := s.call("PUT", "/api/admin/settings", write, c.patch); code != 200 {
				t.Errorf("PUT %s on Advanced: %d %v", c.patch, code, body)
			}
		}
		if code, _, body := s.call("POST", "/api/admin/alerts/rules", write, rule(true, "event.score < 50")); code != 201 {
			t.Errorf("rule with a condition on Advanced: %d %v", code, body)
		}
	})
}

// TestInviteLinkWarningWithoutPublicURL: with SMTP on (invitations are
// sent) and no SM_PUBLIC_URL, the admin is told that invitation links use
// the inviting request's host; with SM_PUBLIC_URL set, not.
func TestInviteLinkWarningWithoutPublicURL(t *testing.T) {
	for _, public := range []bool{false, true} {
		env := map[string]string{"SMTP_URL": "smtp://127.0.0.1:2525?tls=none", "SM_ADDR": freePort(t)}
		if public {
			env["SM_PUBLIC_URL"] = "http://" + env["SM_ADDR"]
		}
		s := startServer(t, env)
		w := warningCodes(t, s, s.adminToken("read"))
		if got := slices.Contains(w, "invite_link_request_host"); got == public {
			t.Errorf("SM_PUBLIC_URL set %v: warnings %v", public, w)
		}
	}
}
