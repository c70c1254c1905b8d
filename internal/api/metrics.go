package api

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shp-dev/shp/internal/warehouse"
)

// metrics are the API's Prometheus metrics, in a registry of the server's
// own (no global state).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics makes the API's metrics; with costs, also the warehouse
// cost of the runs on record by pipeline (costCollector).
func newMetrics(costs func(context.Context) (map[string]warehouse.Cost, error), log *slog.Logger) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shp_api_requests_total", Help: "API requests by route and status code.",
		}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shp_api_request_duration_seconds", Help: "API request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	m.reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if costs != nil {
		m.reg.MustRegister(&costCollector{costs: costs, log: log})
	}
	return m
}

// observe counts a request under its route pattern (not its path, which
// would make a series per id).
func (m *metrics) observe(method, route string, code int, took time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(method, route).Observe(took.Seconds())
}

// handler serves the API's metrics and those of extra, in one page.
func (m *metrics) handler(extra ...prometheus.Gatherer) http.Handler {
	gs := prometheus.Gatherers{m.reg}
	for _, g := range extra {
		if g != nil {
			gs = append(gs, g)
		}
	}
	return promhttp.HandlerFor(gs, promhttp.HandlerOpts{})
}

// Descriptions of the warehouse cost counters.
var (
	costJobsDesc = prometheus.NewDesc("shp_warehouse_jobs_total",
		"Warehouse jobs the finished runs on record ran, by pipeline (warehouses that report cost: BigQuery).", []string{"pipeline"}, nil)
	costProcessedDesc = prometheus.NewDesc("shp_warehouse_bytes_processed_total",
		"Bytes the warehouse jobs of the finished runs on record processed, by pipeline.", []string{"pipeline"}, nil)
	costBilledDesc = prometheus.NewDesc("shp_warehouse_bytes_billed_total",
		"Bytes the warehouse billed for the finished runs on record, by pipeline.", []string{"pipeline"}, nil)
	costSlotDesc = prometheus.NewDesc("shp_warehouse_slot_milliseconds_total",
		"Slot-milliseconds the warehouse jobs of the finished runs on record took, by pipeline.", []string{"pipeline"}, nil)
)

// costScrapeTimeout bounds the reading of the runs at a scrape.
const costScrapeTimeout = 10 * time.Second

// costCollector reports the warehouse cost recorded with the runs
// (service.WarehouseCosts) as counters, computed from the run records at
// each scrape, so that runs of any process (a CLI run, the scheduler)
// count. When the runs cannot be read it reports the last sums it read,
// and logs why.
type costCollector struct {
	costs func(context.Context) (map[string]warehouse.Cost, error)
	log   *slog.Logger

	mu   sync.Mutex
	last map[string]warehouse.Cost
}

// Describe sends the counters' descriptions.
func (c *costCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{costJobsDesc, costProcessedDesc, costBilledDesc, costSlotDesc} {
		ch <- d
	}
}

// Collect reads the runs' cost and sends a counter of each kind per
// pipeline that has any.
func (c *costCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), costScrapeTimeout)
	defer cancel()
	totals, err := c.costs(ctx)
	c.mu.Lock()
	if err != nil {
		if c.log != nil {
			c.log.Warn("metrics: read the warehouse cost of the runs", "err", err)
		}
		totals = c.last
	} else {
		c.last = totals
	}
	c.mu.Unlock()
	pipelines := make([]string, 0, len(totals))
	for p := range totals {
		pipelines = append(pipelines, p)
	}
	sort.Strings(pipelines)
	for _, p := range pipelines {
		t := totals[p]
		ch <- prometheus.MustNewConstMetric(costJobsDesc, prometheus.CounterValue, float64(t.Jobs), p)
		ch <- prometheus.MustNewConstMetric(costProcessedDesc, prometheus.CounterValue, float64(t.BytesProcessed), p)
		ch <- prometheus.MustNewConstMetric(costBilledDesc, prometheus.CounterValue, float64(t.BytesBilled), p)
		ch <- prometheus.MustNewConstMetric(costSlotDesc, prometheus.CounterValue, float64(t.SlotMillis), p)
	}
}
