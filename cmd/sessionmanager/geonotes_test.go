package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGeoAirGappedAndSameNamedLists runs the server as an air-gapped
// install (SM_THREAT_FEEDS=off) with two VPN list files of the same base
// name: /metrics answers with a series for each file and no source counted
// as failing; the status and the dashboard's data page show the disabled
// feeds as a note, not an error.
func TestGeoAirGappedAndSameNamedLists(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "list.txt"), filepath.Join(t.TempDir(), "list.txt")
	for path, data := range map[string]string{a: "45.83.220.0/22\n", b: "45.84.0.0/22\n198.51.100.0/24\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, map[string]string{"SM_THREAT_FEEDS": "off", "SM_VPN_RANGES": a + "," + b})

	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(raw)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d\n%.500s", resp.StatusCode, metrics)
	}
	for _, want := range []string{`msm_geo_source_records{source="vpn-list.txt"} 1`, `msm_geo_source_records{source="vpn-list.txt-2"} 2`,
		`msm_geo_source_error{source="tor-exits"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "msm_geo_source"))
		}
	}
	if failing := regexp.MustCompile(`(?m)^msm_geo_source_error\{[^}]*\} 1$`).FindAllString(metrics, -1); len(failing) > 0 {
		t.Errorf("sources counted as failing with the feeds off: %v", failing)
	}

	read := s.adminToken("read")
	code, _, body := s.call("GET", "/api/admin/geo/status", read, nil)
	if code != 200 {
		t.Fatalf("geo status: %d %v", code, body)
	}
	for _, src := range body["data"].(map[string]any)["sources"].([]any) {
		src := src.(map[string]any)
		if str(src, "name") == "tor-exits" && (str(src, "note") != "disabled: SM_THREAT_FEEDS=off" || src["lastError"] != nil) {
			t.Errorf("tor-exits with the feeds off: %v", src)
		}
	}

	req, _ := http.NewRequest("GET", s.base+"/admin/data", nil)
	req.AddCookie(adminCookie(t, s.adminSignIn()))
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(raw)
	row := regexp.MustCompile(`(?s)<tr data-source="tor-exits">.*?</tr>`).FindString(page)
	if resp.StatusCode != 200 || !strings.Contains(row, "disabled: SM_THREAT_FEEDS=off") || strings.Contains(row, "badge-bad") {
		t.Errorf("data page row of tor-exits (%d): %s", resp.StatusCode, row)
	}
}
