package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringside/ringside/internal/call"
)

// metrics are the server's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	popLatency  prometheus.Histogram
	events      *prometheus.CounterVec
	sources     *prometheus.GaugeVec
	outboxDepth *prometheus.GaugeVec
	outboxAge   prometheus.Gauge
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
	m.outboxDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringside_outbox_items", Help: "Outbox items by state."}, []string{"state"})
	m.outboxAge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringside_outbox_oldest_age_seconds", Help: "Age of the oldest pending outbox item."})
	m.reg.MustRegister(m.popLatency, m.events, m.sources, m.outboxDepth, m.outboxAge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringside_agents_connected", Help: "Live agent connections."},
			func() float64 { return float64(s.hub.Connected()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringside_agents_dropped_total", Help: "Agent connections dropped for being too slow."},
			func() float64 { return float64(s.hub.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringside_crm_lookups_total", Help: "Lookups that reached the CRM directory."},
			func() float64 { return float64(s.lookup.Requests()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringside_calls_tracked", Help: "Calls held by the tracker."},
			func() float64 { return float64(s.track.Len()) }),
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

func (m *metrics) sourceState(name, state string) {
	v := 0.0
	if state == "connected" {
		v = 1
	}
	m.sources.WithLabelValues(name).Set(v)
}

func (m *metrics) refresh(ctx context.Context) {
	for _, ns := range m.s.sources {
		if st, ok := ns.src.(interface{ State() (string, string) }); ok {
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
