// Package monitor is shp's monitoring component: the pipeline metrics
// exported on /metrics, alert rules evaluated over the run history, the
// correlation of alerts into incidents, and their routing to receivers
// (internal/notify) through a durable outbox.
package monitor

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
)

// RunReport is what the metrics take from a finished run. Its fields are
// counts and times, never values of the data.
type RunReport struct {
	Pipeline                                  string
	SourceType                                string
	Status                                    string // a metadata run status: succeeded, failed, held...
	RowsIn, Loaded, Quarantined, Deduplicated int64
	Bytes                                     int64
	Duration                                  time.Duration
	// Stages is the time spent in each stage (extract, stage, validate,
	// heal, commit).
	Stages map[string]time.Duration
	// QualityScore is the batch's mean quality score (0–100); NaN when
	// the pipeline has no rules.
	QualityScore float64
	// FailedRules counts the rules that failed on the batch.
	FailedRules int
}

// Buckets of the duration histograms, in seconds: from 10 ms to 2 h.
var durationBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

// Metrics are the pipeline metrics: counters and histograms of the runs
// this process finished (ObserveRun), and gauges read from the metadata
// store at each scrape (freshness, the last successful run, healing
// actions and the self-healing success rate), so that runs of any
// process count there.
type Metrics struct {
	runs        *prometheus.CounterVec
	rows        *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	runDuration *prometheus.HistogramVec
	stage       *prometheus.HistogramVec
	quarantine  *prometheus.GaugeVec
	quality     *prometheus.GaugeVec
	failedRules *prometheus.GaugeVec
	// SchedulerLag is how late scheduled runs start after their due time.
	schedulerLag prometheus.Histogram
	// notifications counts notifications by receiver and outcome.
	notifications *prometheus.CounterVec
	store         *storeCollector
}

// NewMetrics makes the pipeline metrics and registers them in reg. store,
// when not nil, backs the gauges read at each scrape; now is the clock
// (time.Now when nil).
func NewMetrics(reg prometheus.Registerer, store metadata.Store, now func() time.Time, log *slog.Logger) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shp_pipeline_runs_total", Help: "Finished pipeline runs by pipeline, source type and final status.",
		}, []string{"pipeline", "source_type", "status"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shp_pipeline_rows_total",
			Help: "Rows of finished runs by outcome: in (read from the source), loaded, quarantined, deduplicated.",
		}, []string{"pipeline", "source_type", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shp_pipeline_bytes_total", Help: "Bytes read from the source by finished runs.",
		}, []string{"pipeline", "source_type"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shp_pipeline_run_duration_seconds", Help: "Duration of finished runs by final status.", Buckets: durationBuckets,
		}, []string{"pipeline", "status"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shp_pipeline_stage_duration_seconds",
			Help:    "Time finished runs spent in each stage: extract, stage, validate, heal, commit.",
			Buckets: durationBuckets,
		}, []string{"pipeline", "stage"}),
		quarantine: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shp_pipeline_quarantine_ratio", Help: "Share of the last finished run's rows that were quarantined.",
		}, []string{"pipeline"}),
		quality: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shp_pipeline_quality_score", Help: "Quality score (0-100) of the last finished run that was validated.",
		}, []string{"pipeline"}),
		failedRules: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shp_pipeline_failed_rules", Help: "Quality rules that failed on the last finished run that was validated.",
		}, []string{"pipeline"}),
		schedulerLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shp_scheduler_lag_seconds", Help: "How long after its due time a scheduled run started.", Buckets: durationBuckets,
		}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shp_notifications_total", Help: "Notifications by receiver and outcome: sent, failed (parked), retried, suppressed.",
		}, []string{"receiver", "outcome"}),
	}
	reg.MustRegister(m.runs, m.rows, m.bytes, m.runDuration, m.stage, m.quarantine, m.quality, m.failedRules,
		m.schedulerLag, m.notifications)
	if store != nil {
		m.store = &storeCollector{store: store, now: now, log: log}
		reg.MustRegister(m.store)
	}
	return m
}

// ObserveRun counts a finished run.
func (m *Metrics) ObserveRun(r RunReport) {
	src := r.SourceType
	m.runs.WithLabelValues(r.Pipeline, src, r.Status).Inc()
	for _, o := range []struct {
		outcome string
		n       int64
	}{{"in", r.RowsIn}, {"loaded", r.Loaded}, {"quarantined", r.Quarantined}, {"deduplicated", r.Deduplicated}} {
		m.rows.WithLabelValues(r.Pipeline, src, o.outcome).Add(float64(max(o.n, 0)))
	}
	m.bytes.WithLabelValues(r.Pipeline, src).Add(float64(max(r.Bytes, 0)))
	m.runDuration.WithLabelValues(r.Pipeline, r.Status).Observe(r.Duration.Seconds())
	stages := make([]string, 0, len(r.Stages))
	for s := range r.Stages {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		m.stage.WithLabelValues(r.Pipeline, s).Observe(r.Stages[s].Seconds())
	}
	if r.RowsIn > 0 {
		m.quarantine.WithLabelValues(r.Pipeline).Set(float64(r.Quarantined) / float64(r.RowsIn))
	}
	if !math.IsNaN(r.QualityScore) {
		m.quality.WithLabelValues(r.Pipeline).Set(r.QualityScore)
		m.failedRules.WithLabelValues(r.Pipeline).Set(float64(r.FailedRules))
	}
}

// ObserveSchedulerLag records how late a scheduled run started.
func (m *Metrics) ObserveSchedulerLag(d time.Duration) {
	m.schedulerLag.Observe(max(d, 0).Seconds())
}

// ObserveNotification counts a notification's outcome at a receiver.
func (m *Metrics) ObserveNotification(receiver, outcome string) {
	m.notifications.WithLabelValues(receiver, outcome).Inc()
}

// Descriptions of the gauges read from the metadata store.
var (
	lastSuccessDesc = prometheus.NewDesc("shp_pipeline_last_success_timestamp_seconds",
		"When the pipeline's last successful run ended (Unix time).", []string{"pipeline"}, nil)
	sinceSuccessDesc = prometheus.NewDesc("shp_pipeline_seconds_since_success",
		"Age of the pipeline's last successful run.", []string{"pipeline"}, nil)
	freshnessDesc = prometheus.NewDesc("shp_pipeline_freshness_seconds",
		"Age of the newest event the pipeline loaded (event_time), now.", []string{"pipeline"}, nil)
	lastStatusDesc = prometheus.NewDesc("shp_pipeline_last_run_status",
		"1 for the status of the pipeline's last finished run, 0 for the others.", []string{"pipeline", "status"}, nil)
	actionsDesc = prometheus.NewDesc("shp_healing_actions",
		"Self-healing actions on record by pipeline, strategy and outcome (their status now: an action proposed, then approved, moves).",
		[]string{"pipeline", "strategy", "outcome"}, nil)
	successDesc = prometheus.NewDesc("shp_healing_success_ratio",
		"Self-healing success rate: actions applied, approved or resolved over those plus the ones rolled back or failed.",
		[]string{"pipeline"}, nil)
)

// scrapeTimeout bounds the store's reading at a scrape.
const scrapeTimeout = 10 * time.Second

// storeCollector reports the gauges that come from the metadata store.
// When the store cannot be read, it reports nothing of that scrape and
// logs why.
type storeCollector struct {
	store metadata.Store
	now   func() time.Time
	log   *slog.Logger
	mu    sync.Mutex // one scrape reads the store at a time
}

// Describe sends the gauges' descriptions.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lastSuccessDesc, sinceSuccessDesc, freshnessDesc, lastStatusDesc, actionsDesc, successDesc} {
		ch <- d
	}
}

// Collect reads each pipeline's latest runs and the healing actions'
// counts.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := c.now()
	states, err := PipelineStates(ctx, c.store)
	if err != nil {
		c.warn("read the pipelines' runs", err)
		return
	}
	for _, s := range states {
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, s.Name)
			ch <- prometheus.MustNewConstMetric(sinceSuccessDesc, prometheus.GaugeValue, now.Sub(s.LastSuccess).Seconds(), s.Name)
		}
		if !s.NewestEvent.IsZero() {
			ch <- prometheus.MustNewConstMetric(freshnessDesc, prometheus.GaugeValue, max(0, now.Sub(s.NewestEvent).Seconds()), s.Name)
		}
		if s.Last.ID != "" {
			for _, st := range finalStatuses {
				v := 0.0
				if s.Last.Status == st {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(lastStatusDesc, prometheus.GaugeValue, v, s.Name, st)
			}
		}
	}
	counter, ok := c.store.(actionCounter)
	if !ok {
		return
	}
	counts, err := counter.CountActions(ctx)
	if err != nil {
		c.warn("count the healing actions", err)
		return
	}
	type tally struct{ ok, bad float64 }
	rates := map[string]*tally{}
	for _, a := range counts {
		ch <- prometheus.MustNewConstMetric(actionsDesc, prometheus.GaugeValue, float64(a.Count), a.Pipeline, a.Strategy, a.Status)
		t := rates[a.Pipeline]
		if t == nil {
			t = &tally{}
			rates[a.Pipeline] = t
		}
		switch {
		case a.Strategy == "hold" && a.Status == "applied":
			// The release of an approved hold: the decision is the
			// approval, counted once as such.
		case a.Status == "applied" || a.Status == "approved" || a.Status == "resolved":
			t.ok += float64(a.Count)
		case a.Status == "rolled_back" || a.Status == "failed":
			t.bad += float64(a.Count)
		}
	}
	for p, t := range rates {
		if t.ok+t.bad > 0 {
			ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, t.ok/(t.ok+t.bad), p)
		}
	}
}

func (c *storeCollector) warn(what string, err error) {
	if c.log != nil {
		c.log.Warn("metrics: "+what, "err", err)
	}
}

// finalStatuses are the statuses a finished run can end with.
var finalStatuses = []string{metadata.StatusSucceeded, metadata.StatusFailed, metadata.StatusHeld}

// actionCounter is a store that counts its healing actions by pipeline,
// strategy and status in one query.
type actionCounter interface {
	CountActions(ctx context.Context) ([]metadata.ActionCount, error)
}

// ReportOf is what the metrics take from a pipeline's result.
func ReportOf(res *pipeline.Result) RunReport {
	r := RunReport{Pipeline: res.Pipeline, SourceType: res.SourceType, Status: res.Status, RowsIn: res.RowsIn, Loaded: res.Loaded,
		Quarantined: res.Quarantined, Deduplicated: res.Deduplicated, Duration: res.Duration, Stages: res.Stages,
		QualityScore: math.NaN()}
	if r.SourceType == "" {
		r.SourceType = "unknown"
	}
	validated := false
	for _, o := range res.Objects {
		r.Bytes += o.Bytes
		if o.Quality != nil {
			validated = true
			r.FailedRules += len(o.Quality.Failed)
		}
	}
	if s, ok := res.Metrics["quality_score"]; ok {
		r.QualityScore = s
	} else if validated {
		// An uncommitted run has no batch metrics; its objects' scores
		// stand for it.
		var sum float64
		var n int
		for _, o := range res.Objects {
			if o.Quality != nil {
				sum += o.Quality.Score
				n++
			}
		}
		r.QualityScore = sum / float64(n)
	}
	return r
}
