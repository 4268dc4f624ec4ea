package httpapi

// Metrics: an add-on's series (GET /apps/{app}/addons/{addon}/metrics) and
// the Prometheus endpoint (GET /metrics). /metrics reads the sampler's
// latest samples and the broker's counters: a scrape costs no INFO.

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"larder/broker"
	"larder/broker/metrics"
	"larder/fault"
)

func (b *API) addonMetrics(r *http.Request) (int, any, error) {
	out, err := b.b.Metrics.AddonSeries(r.Context(), mux.Vars(r)["app"], mux.Vars(r)["addon"], r.URL.Query().Get("since"))
	return http.StatusOK, out, err
}

// prometheusHandler serves /metrics to a bearer of the metrics token (or
// the admin token): add-on names and apps are the operator's business, and
// a scraper holding the admin token could destroy every add-on.
func (b *API) prometheusHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newCollector(b.b))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			b.writeError(w, r, fault.E(fault.Unauthorized, "missing token: scrape /metrics with the metrics token (DATA-DIR/metrics-token) as a bearer token"))
			return
		}
		if !b.b.MetricsTokenMatches(got) && !b.b.TokenMatches(got) {
			b.writeError(w, r, fault.E(fault.Unauthorized, "invalid metrics token"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// nodeLabels label every per-node gauge.
var nodeLabels = []string{"addon", "app", "plan", "role", "host", "node"}

// gauge is one per-node gauge: its name, help and how a sample gives it
// (ok false: not known, not exported).
type gauge struct {
	desc  *prometheus.Desc
	value func(l metrics.Latest) (float64, bool)
}

func newGauge(name, help string, value func(l metrics.Latest) (float64, bool)) gauge {
	return gauge{prometheus.NewDesc("larder_"+name, help, nodeLabels, nil), value}
}

// answered and rated gate a figure on the node's last answer, and on its
// having rates.
func answered(f func(l metrics.Latest) float64) func(metrics.Latest) (float64, bool) {
	return func(l metrics.Latest) (float64, bool) { return f(l), l.Up }
}

func rated(f func(l metrics.Latest) float64) func(metrics.Latest) (float64, bool) {
	return func(l metrics.Latest) (float64, bool) { return f(l), l.Up && l.HasRates }
}

func boolean(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var gauges = []gauge{
	newGauge("node_up", "1 when the node answered the last sampling round.", func(l metrics.Latest) (float64, bool) { return boolean(l.Up), true }),
	newGauge("memory_used_bytes", "Memory the node uses (INFO used_memory).", answered(func(l metrics.Latest) float64 { return l.MemoryUsedBytes })),
	newGauge("memory_limit_bytes", "The plan's memory limit.", func(l metrics.Latest) (float64, bool) { return l.MemoryLimitBytes, true }),
	newGauge("clients", "The app's connections to the node.", answered(func(l metrics.Latest) float64 { return l.Clients })),
	newGauge("clients_limit", "The plan's connection limit.", func(l metrics.Latest) (float64, bool) { return l.ClientsLimit, true }),
	newGauge("cpu_cores", "CPU the node used over the last interval, in cores.", rated(func(l metrics.Latest) float64 { return l.CPUCores })),
	newGauge("ops_per_second", "Commands per second over the last interval.", rated(func(l metrics.Latest) float64 { return l.Ops })),
	newGauge("hit_ratio", "Keyspace hits over lookups in the last interval.", func(l metrics.Latest) (float64, bool) {
		r, ok := l.HitRatio()
		return r, ok && l.Up && l.HasRates
	}),
	newGauge("evictions_per_second", "Keys evicted per second over the last interval.", rated(func(l metrics.Latest) float64 { return l.Evictions })),
	newGauge("expired_keys_per_second", "Keys expired per second over the last interval.", rated(func(l metrics.Latest) float64 { return l.ExpiredRate })),
	newGauge("replication_lag_bytes", "On a primary: how far its standby is behind it.", answered(func(l metrics.Latest) float64 { return l.ReplLagBytes })),
	newGauge("replication_offset_bytes", "The node's replication offset.", answered(func(l metrics.Latest) float64 { return l.ReplOffset })),
	newGauge("persistence_ok", "1 when the node's last save and AOF write worked.", answered(func(l metrics.Latest) float64 { return boolean(l.PersistenceOK) })),
}

var (
	failoversDesc   = prometheus.NewDesc("larder_failovers_total", "Failovers whose promotion was recorded.", nil, nil)
	switchoversDesc = prometheus.NewDesc("larder_switchovers_total", "Planned switchovers that handed the primary role over.", nil, nil)
	operationsDesc  = prometheus.NewDesc("larder_operations_total", "Operations that ended, by kind and result.", []string{"kind", "result"}, nil)
	votesDesc       = prometheus.NewDesc("larder_monitor_votes_total", "Observers' verdicts on nodes, by location and vote (up, down).", []string{"location", "vote"}, nil)
	roundsDesc      = prometheus.NewDesc("larder_metrics_rounds_total", "Sampling rounds run.", nil, nil)
	failuresDesc    = prometheus.NewDesc("larder_metrics_sample_failures_total", "Node readings that failed or timed out.", nil, nil)
	roundDesc       = prometheus.NewDesc("larder_metrics_round_seconds", "How long the last sampling round took.", nil, nil)
)

// collector exposes the sampler's latest samples and the counters.
type collector struct{ b *broker.Broker }

func newCollector(b *broker.Broker) prometheus.Collector { return collector{b} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range gauges {
		ch <- g.desc
	}
	for _, d := range []*prometheus.Desc{failoversDesc, switchoversDesc, operationsDesc, votesDesc, roundsDesc, failuresDesc, roundDesc} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.b.Metrics
	for _, l := range m.Latest() {
		labels := []string{l.Addon, l.App, l.Plan, l.Role, l.Host, l.Node}
		for _, g := range gauges {
			if v, ok := g.value(l); ok {
				ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, labels...)
			}
		}
	}
	s := m.Counters().Snapshot()
	ch <- prometheus.MustNewConstMetric(failoversDesc, prometheus.CounterValue, float64(s.Failovers))
	ch <- prometheus.MustNewConstMetric(switchoversDesc, prometheus.CounterValue, float64(s.Switchovers))
	for _, o := range s.Operations {
		ch <- prometheus.MustNewConstMetric(operationsDesc, prometheus.CounterValue, float64(o.Value), o.Labels[0], o.Labels[1])
	}
	for _, v := range s.Votes {
		ch <- prometheus.MustNewConstMetric(votesDesc, prometheus.CounterValue, float64(v.Value), v.Labels[0], v.Labels[1])
	}
	st := m.Stats()
	ch <- prometheus.MustNewConstMetric(roundsDesc, prometheus.CounterValue, float64(st.Rounds))
	ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(st.Failures))
	ch <- prometheus.MustNewConstMetric(roundDesc, prometheus.GaugeValue, st.LastRound.Seconds())
}
