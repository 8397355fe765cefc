package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// reportingGeo stands in for package geo's resolver: a fixed status.
type reportingGeo struct{ st sm.GeoStatus }

func (g reportingGeo) Lookup(context.Context, netip.Addr) (sm.GeoResult, error) {
	return sm.GeoResult{}, nil
}
func (g reportingGeo) GeoStatus() sm.GeoStatus { return g.st }

// TestMetricsGeoSources: /metrics has, per source, the records, the data
// age and the last-error flag, and the configuration warnings by code.
func TestMetricsGeoSources(t *testing.T) {
	built := time.Now().Add(-48 * time.Hour)
	geo := reportingGeo{sm.NewGeoStatus([]sm.GeoSource{
		{Name: "builtin-country", Provides: []string{sm.GeoCountry}, Origin: "builtin", Records: 1234, DataDate: built, Enabled: true},
		{Name: "tor-exits", Provides: []string{sm.GeoTor}, Origin: "https://example.invalid/tor", LastError: "HTTP 503", Enabled: true},
	}, true)}
	m, _, _ := newTestManager(t, geo)
	h := NewServer(Deps{Manager: m, Core: m.AdminCore(), Metrics: NewMetrics(nil, nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`msm_geo_source_records{source="builtin-country"} 1234`,
		`msm_geo_source_records{source="tor-exits"} 0`,
		`msm_geo_source_error{source="builtin-country"} 0`,
		`msm_geo_source_error{source="tor-exits"} 1`,
		`msm_geo_source_age_seconds{source="builtin-country"} 1728`,
		`msm_config_warnings{code="tor_no_data"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `msm_geo_source_age_seconds{source="tor-exits"}`) {
		t.Error("an age for a source that never had data")
	}
}

// TestMetricsGeoSameNamedFiles: two list files with the same base name
// (SM_VPN_RANGES=/a/list.txt,/b/list.txt) are two series; and a reporter
// that repeats a name loses the repeat, not the whole /metrics answer.
func TestMetricsGeoSameNamedFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		st   sm.GeoStatus
		want []string
	}{
		{"NewGeoStatus", sm.NewGeoStatus([]sm.GeoSource{
			{Name: "vpn-list.txt", Provides: []string{sm.GeoVPN}, Origin: "/a/list.txt", Records: 3, Enabled: true},
			{Name: "vpn-list.txt", Provides: []string{sm.GeoVPN}, Origin: "/b/list.txt", Records: 5, Enabled: true},
		}, true), []string{`msm_geo_source_records{source="vpn-list.txt"} 3`, `msm_geo_source_records{source="vpn-list.txt-2"} 5`}},
		{"raw duplicates", sm.GeoStatus{Sources: []sm.GeoSource{
			{Name: "vpn-list.txt", Origin: "/a/list.txt", Records: 3, Enabled: true},
			{Name: "vpn-list.txt", Origin: "/b/list.txt", Records: 5, Enabled: true},
		}}, []string{`msm_geo_source_records{source="vpn-list.txt"} 3`}},
	} {
		m, _, _ := newTestManager(t, reportingGeo{c.st})
		h := NewServer(Deps{Manager: m, Core: m.AdminCore(), Metrics: NewMetrics(nil, nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("%s: /metrics answered %d: %.300s", c.name, rec.Code, rec.Body.String())
		}
		for _, want := range append(c.want, "msm_geo_source_error") {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s: /metrics lacks %s", c.name, want)
			}
		}
	}
}
