package cluster

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ajar-scan/ajar"
)

// Metrics are a worker's Prometheus metrics, in a registry of their own.
type Metrics struct {
	reg *prometheus.Registry

	inFlight     prometheus.Gauge
	shards       *prometheus.CounterVec
	ports        prometheus.Counter
	attempts     prometheus.Counter
	portsPerSec  prometheus.Gauge
	events       *prometheus.CounterVec
	probeErrors  *prometheus.CounterVec
	storeSeconds *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
	workers      prometheus.Gauge
	rate         prometheus.Gauge

	mu      sync.Mutex
	samples []portSample // for portsPerSec
}

type portSample struct {
	at    time.Time
	ports int64
}

// The window over which ajar_worker_ports_per_second is averaged.
const rateWindow = 10 * time.Second

// NewMetrics registers the worker's metrics, with the Go runtime's and the
// process's, in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ajar_worker_shards_in_flight", Help: "Shards this worker is scanning now.",
		}),
		shards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ajar_worker_shards_total",
			Help: "Shards handled, by result: done, already_done, handed_back (nak), failed, dropped (scan cancelled or unknown).",
		}, []string{"result"}),
		ports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ajar_worker_ports_total", Help: "Targets (address and port) finished by discovery.",
		}),
		attempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ajar_worker_connect_attempts_total", Help: "Connection attempts, retries included.",
		}),
		portsPerSec: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ajar_worker_ports_per_second", Help: "Targets finished per second, averaged over the last 10 seconds.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ajar_worker_events_total", Help: "Observations stored, by status.",
		}, []string{"status"}),
		probeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ajar_worker_probe_errors_total", Help: "Probes that ended in an error, by plugin.",
		}, []string{"plugin"}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ajar_worker_store_seconds",
			Help:    "Latency of store calls (record, get, list) and of shard bookkeeping in NATS (ledger), each attempt.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ajar_worker_store_errors_total", Help: "Store calls that failed (and were retried or given up), by op.",
		}, []string{"op"}),
		workers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ajar_cluster_workers", Help: "Live workers this worker counts for the rate share.",
		}),
		rate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ajar_worker_rate_limit", Help: "Connection attempts per second this worker may make on its shard (0: no limit).",
		}),
	}
	m.reg.MustRegister(m.inFlight, m.shards, m.ports, m.attempts, m.portsPerSec, m.events, m.probeErrors,
		m.storeSeconds, m.storeErrors, m.workers, m.rate,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"done", "already_done", "handed_back", "failed", "dropped"} {
		m.shards.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) observeStore(op string, took time.Duration, err error) {
	m.storeSeconds.WithLabelValues(op).Observe(took.Seconds())
	if err != nil && !strings.Contains(err.Error(), ajar.ErrNotFound.Error()) {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// event counts a stored observation, and its probe's error if it had one:
// the pipeline puts a probe's error in the event's detail as "probe
// <plugin> <target>: …" when the probe gave no detail of its own.
func (m *Metrics) event(ev *ajar.Event) {
	m.events.WithLabelValues(string(ev.Status)).Inc()
	if ev.Plugin != "" && strings.HasPrefix(ev.Detail, "probe "+ev.Plugin+" ") {
		m.probeErrors.WithLabelValues(ev.Plugin).Inc()
	}
}

// addPorts counts finished targets and updates the per-second average.
func (m *Metrics) addPorts(n, attempts int64) {
	m.ports.Add(float64(n))
	m.attempts.Add(float64(attempts))
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	total := n
	if len(m.samples) > 0 {
		total += m.samples[len(m.samples)-1].ports
	}
	m.samples = append(m.samples, portSample{now, total})
	for len(m.samples) > 2 && now.Sub(m.samples[0].at) > rateWindow {
		m.samples = m.samples[1:]
	}
	if first := m.samples[0]; now.Sub(first.at) > 0 {
		m.portsPerSec.Set(float64(total-first.ports) / now.Sub(first.at).Seconds())
	}
}
