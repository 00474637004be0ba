package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/version"
)

// metrics are the server's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	popLatency  prometheus.Histogram
	events      *prometheus.CounterVec
	sources     *prometheus.GaugeVec
	sourceWords *prometheus.GaugeVec
	outboxDepth *prometheus.GaugeVec
	outboxAge   prometheus.Gauge
	lookups     *prometheus.CounterVec
	crmLatency  *prometheus.HistogramVec
	crmErrors   *prometheus.CounterVec
	s           *Server
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), s: s}
	m.popLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ringside_pop_latency_seconds",
		Help:    "Time from a phone system's signal reaching Ringside to the pop being written to an agent's socket.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringside_call_events_total", Help: "Call events by type."}, []string{"type"})
	m.sources = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringside_source_up", Help: "1 when a phone-system connection is up."}, []string{"source"})
	m.sourceWords = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringside_source_state",
		Help: "1 for the state a phone-system source is in: connecting, up, down, failed, or standby (another node of the cluster runs it)."}, []string{"source", "state"})
	m.outboxDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringside_outbox_items", Help: "Outbox items by state."}, []string{"state"})
	m.outboxAge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringside_outbox_oldest_age_seconds", Help: "Age of the oldest pending outbox item."})
	m.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringside_lookups_total",
		Help: "Caller lookups by where the answer came from (cache, index, live) and result (found, unknown, error, timeout)."}, []string{"source", "result"})
	m.crmLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ringside_crm_request_seconds",
		Help:    "Time the CRM directory took per operation (lookup, get, create, log_call).",
		Buckets: []float64{.00001, .0001, .001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"op"})
	m.crmErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringside_crm_errors_total",
		Help: "CRM operations that failed, by operation and kind (unavailable, not_found, other)."}, []string{"op", "kind"})
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringside_build_info",
		Help: "Always 1; the labels say which build runs (version tag, commit, Go version)."}, []string{"version", "commit", "goversion"})
	in := version.Get()
	bi.WithLabelValues(in.Version, in.Commit, in.Go).Set(1)
	m.reg.MustRegister(bi, m.popLatency, m.events, m.sources, m.sourceWords, m.outboxDepth, m.outboxAge, m.lookups, m.crmLatency, m.crmErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringside_agents_connected", Help: "Live agent connections."},
			func() float64 { return float64(s.hub.Connected()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringside_agents_dropped_total", Help: "Agent connections dropped for being too slow."},
			func() float64 { return float64(s.hub.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringside_crm_lookups_total", Help: "Lookups that reached the CRM directory."},
			func() float64 { return float64(s.lookup.Requests()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringside_calls_tracked", Help: "Calls held by the tracker."},
			func() float64 { return float64(s.pipe.Tracked()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringside_cluster_connected", Help: "1 when the cluster bus is connected to NATS."},
			func() float64 {
				if s.clu != nil && s.clu.bus != nil && s.clu.bus.State() == "" {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringside_cluster_forged_total", Help: "Cluster messages dropped for a missing or wrong signature."},
			func() float64 {
				if s.clu != nil && s.clu.bus != nil {
					return float64(s.clu.bus.Forged())
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringside_connections_refused_total", Help: "Connections closed at once for being past web.max_connections or web.max_connections_per_address."},
			func() float64 {
				if s.limits != nil {
					return float64(s.limits.refused.Load())
				}
				return 0
			}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observe(ev call.Event, recipients int, since time.Time) {
	m.events.WithLabelValues(string(ev.Type)).Inc()
}

// written observes a stream message written to a socket: pops feed the latency histogram.
func (m *metrics) written(msg []byte, since time.Time) {
	if isPop(msg) {
		m.popLatency.Observe(time.Since(since).Seconds())
	}
}

// stateWords are the values of ringside_source_state's state label.
var stateWords = []string{telephony.StateConnecting, telephony.StateUp, telephony.StateDown, telephony.StateFailed, stateStandby}

// stateStandby: a node of a cluster that waits for the lease of a source another node runs.
const stateStandby = "standby"

func (m *metrics) sourceState(name, state string) {
	v := 0.0
	if state == telephony.StateUp {
		v = 1
	}
	m.sources.WithLabelValues(name).Set(v)
	for _, w := range stateWords {
		v := 0.0
		if w == state {
			v = 1
		}
		m.sourceWords.WithLabelValues(name, w).Set(v)
	}
}

func (m *metrics) refresh(ctx context.Context) {
	for _, ns := range m.s.sources {
		if m.s.standby(ns.name) {
			m.sourceState(ns.name, stateStandby)
			continue
		}
		if st, ok := ns.src.(telephony.Stater); ok {
			s, _ := st.State()
			m.sourceState(ns.name, s)
		}
	}
	pending, parked, oldest, err := m.s.st.OutboxStats(ctx)
	if err != nil {
		return
	}
	m.outboxDepth.WithLabelValues("pending").Set(float64(pending))
	m.outboxDepth.WithLabelValues("parked").Set(float64(parked))
	if oldest.IsZero() {
		m.outboxAge.Set(0)
	} else {
		m.outboxAge.Set(time.Since(oldest).Seconds())
	}
}

// lookupObserved counts one caller lookup (lookup.Service observer).
func (m *metrics) lookupObserved(cached, found bool, err error) {
	source := "cache"
	if !cached {
		source = "index"
		if r, ok := m.s.dir.(interface{ Ready() bool }); ok && !r.Ready() {
			source = "live" // a CRM whose local index is not synced answers with a query
		}
	}
	result := "unknown"
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		result = "timeout"
	case err != nil:
		result = "error"
	case found:
		result = "found"
	}
	m.lookups.WithLabelValues(source, result).Inc()
}

// crmObserved records one directory operation.
func (m *metrics) crmObserved(op string, d time.Duration, err error) {
	m.crmLatency.WithLabelValues(op).Observe(d.Seconds())
	if err == nil {
		return
	}
	kind := "other"
	switch {
	case errors.Is(err, crm.ErrUnavailable):
		kind = "unavailable"
	case errors.Is(err, crm.ErrNotFound):
		kind = "not_found"
	}
	m.crmErrors.WithLabelValues(op, kind).Inc()
}

// timedDirectory measures a directory's lookups and reads for the metrics; the lookup
// service sits on top of it.
type timedDirectory struct {
	crm.Directory
	m *metrics
}

func (t timedDirectory) Lookup(ctx context.Context, n phone.Number) ([]crm.Match, error) {
	start := time.Now()
	ms, err := t.Directory.Lookup(ctx, n)
	t.m.crmObserved("lookup", time.Since(start), err)
	return ms, err
}

func (t timedDirectory) Get(ctx context.Context, ref crm.Ref) (crm.Record, error) {
	start := time.Now()
	r, err := t.Directory.Get(ctx, ref)
	t.m.crmObserved("get", time.Since(start), err)
	return r, err
}

// timedLogger measures activity writes.
type timedLogger struct {
	crm.ActivityLogger
	m *metrics
}

func (t timedLogger) LogCall(ctx context.Context, a crm.Activity) error {
	start := time.Now()
	err := t.ActivityLogger.LogCall(ctx, a)
	t.m.crmObserved("log_call", time.Since(start), err)
	return err
}
