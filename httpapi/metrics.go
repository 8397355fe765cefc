package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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
	// routes caches each route's series (route pattern -> *routeSeries).
	routes sync.Map
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
// path, so ids do not explode the label set). It is on every request's
// path, so the per-route series are looked up once and kept (routeSeries),
// and the status recorder is reused: a request costs two atomic adds and
// no allocation here.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorders.Get().(*statusRecorder)
		rec.ResponseWriter, rec.code = w, http.StatusOK
		next.ServeHTTP(rec, r)
		code := rec.code
		rec.ResponseWriter = nil // a writer must not be used after ServeHTTP returns
		recorders.Put(rec)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		rs := m.series(route)
		rs.count(m, route, code).Inc()
		rs.latency.Observe(time.Since(start).Seconds())
	})
}

var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

// routeSeries are one route's metrics, resolved from the label vectors once:
// WithLabelValues hashes its labels and takes a lock on every call.
type routeSeries struct {
	latency prometheus.Observer
	// byClass holds the counters of the status codes seen so far, by class
	// (1xx-5xx), each class made on its first code.
	byClass [6]atomic.Pointer[[100]atomic.Pointer[prometheus.Counter]]
}

// series returns route's series, creating them on its first request. The
// routes are the mux's patterns (plus "unmatched"): a bounded set.
func (m *Metrics) series(route string) *routeSeries {
	if rs, ok := m.routes.Load(route); ok {
		return rs.(*routeSeries)
	}
	rs, _ := m.routes.LoadOrStore(route, &routeSeries{latency: m.latency.WithLabelValues(route)})
	return rs.(*routeSeries)
}

// count is the request counter of route for code.
func (rs *routeSeries) count(m *Metrics, route string, code int) prometheus.Counter {
	if code < 100 || code > 599 {
		return m.requests.WithLabelValues(route, strconv.Itoa(code))
	}
	class := &rs.byClass[code/100]
	codes := class.Load()
	if codes == nil {
		class.CompareAndSwap(nil, new([100]atomic.Pointer[prometheus.Counter]))
		codes = class.Load()
	}
	slot := &codes[code%100]
	if c := slot.Load(); c != nil {
		return *c
	}
	c := m.requests.WithLabelValues(route, strconv.Itoa(code))
	slot.Store(&c)
	return c
}
