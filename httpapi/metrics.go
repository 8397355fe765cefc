package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Metrics are the Prometheus metrics of the service: HTTP requests and
// latency by route, and the product's own counters (it implements
// sessionmanager.Metrics).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	// challenges counts login challenges by method and outcome.
	challenges *prometheus.CounterVec
	ended      *prometheus.CounterVec
	flushes    prometheus.Counter
	flushed    prometheus.Counter
	geo        *geoCollector
}

// NewMetrics registers the metrics; gauges are read at scrape time from
// the functions given (nil ones are left out).
func NewMetrics(activeSessions, outboxDepth func() float64) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:      reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msm_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "msm_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msm_logins_total", Help: "Logins by method and outcome (ok, failed, blocked, challenged)."}, []string{"method", "outcome"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msm_challenges_total",
			Help: "Login challenges by method and outcome (issued: by the strongest method offered; passed, failed: by the method answered)."}, []string{"method", "outcome"}),
		ended:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "msm_sessions_ended_total", Help: "Sessions ended by reason."}, []string{"reason"}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{Name: "msm_last_seen_flushes_total", Help: "Last-seen batches written to the store."}),
		flushed: prometheus.NewCounter(prometheus.CounterOpts{Name: "msm_last_seen_notes_written_total", Help: "Last-seen notes written to the store."}),
		geo:     newGeoCollector(),
	}
	reg.MustRegister(m.requests, m.latency, m.logins, m.challenges, m.ended, m.flushes, m.flushed, m.geo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if activeSessions != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "msm_active_sessions", Help: "Sessions with status active."}, activeSessions))
	}
	if outboxDepth != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "msm_outbox_depth", Help: "Alert deliveries waiting in the outbox."}, outboxDepth))
	}
	return m
}

// Registry exposes the registry for other packages' collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Login counts a login outcome.
func (m *Metrics) Login(method sm.AuthMethod, outcome string) {
	m.logins.WithLabelValues(string(method), outcome).Inc()
}

// Challenge counts a login challenge issued, passed or failed
// (sm.ChallengeMetrics).
func (m *Metrics) Challenge(method, outcome string) {
	m.challenges.WithLabelValues(method, outcome).Inc()
}

// SessionEnded counts an ended session.
func (m *Metrics) SessionEnded(reason sm.EndReason) { m.ended.WithLabelValues(string(reason)).Inc() }

// LastSeenFlush counts a last-seen batch.
func (m *Metrics) LastSeenFlush(notes int) {
	m.flushes.Inc()
	m.flushed.Add(float64(notes))
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument records each request under its route pattern (never the raw
// path, so ids do not explode the label set).
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}
