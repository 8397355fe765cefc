package httpapi

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// geoCollector reports the geo and threat sources and the configuration
// warnings at scrape time, from the Manager NewServer hands it.
type geoCollector struct {
	mgr      atomic.Pointer[sm.Manager]
	records  *prometheus.Desc
	age      *prometheus.Desc
	failing  *prometheus.Desc
	warnings *prometheus.Desc
}

func newGeoCollector() *geoCollector {
	src := []string{"source"}
	return &geoCollector{
		records:  prometheus.NewDesc("msm_geo_source_records", "Ranges, prefixes or nodes loaded per geo or threat source.", src, nil),
		age:      prometheus.NewDesc("msm_geo_source_age_seconds", "Age of a geo or threat source's data (build date or last good download).", src, nil),
		failing:  prometheus.NewDesc("msm_geo_source_error", "1 when the last reload or download of a source failed.", src, nil),
		warnings: prometheus.NewDesc("msm_config_warnings", "Configuration warnings (a feature on with no data to work with), by code.", []string{"code"}, nil),
	}
}

// observeGeo makes /metrics report m's geo sources and warnings.
func (m *Metrics) observeGeo(mgr *sm.Manager) { m.geo.mgr.Store(mgr) }

func (c *geoCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.age
	ch <- c.failing
	ch <- c.warnings
}

func (c *geoCollector) Collect(ch chan<- prometheus.Metric) {
	mgr := c.mgr.Load()
	if mgr == nil {
		return
	}
	now := mgr.Now()
	// Names are unique (sm.NewGeoStatus); a reporter that repeats one
	// anyway loses the repeat, never the whole scrape.
	seen := map[string]bool{}
	for _, s := range mgr.GeoStatus().Sources {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(s.Records), s.Name)
		if !s.DataDate.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, now.Sub(s.DataDate).Seconds(), s.Name)
		}
		failed := 0.0
		if s.LastError != "" {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failed, s.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[string]int{}
	for _, w := range mgr.ConfigWarnings(ctx) {
		counts[w.Code]++
	}
	for code, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.warnings, prometheus.GaugeValue, float64(n), code)
	}
}
