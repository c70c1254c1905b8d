package monitor

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shp-dev/shp/internal/metadata"
)

func openStore(t *testing.T) metadata.Store {
	t.Helper()
	s, err := metadata.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addRun records a finished run of pipeline p.
func addRun(t *testing.T, s metadata.Store, p, id, status string, start time.Time, took time.Duration, metrics map[string]float64) {
	t.Helper()
	ctx := context.Background()
	if err := s.UpsertPipeline(ctx, metadata.Pipeline{Name: p, Source: "src_" + p, Target: p, UpdatedAt: start}); err != nil {
		t.Fatal(err)
	}
	r := metadata.Run{ID: id, Pipeline: p, Status: metadata.StatusRunning, StartedAt: start}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if status == metadata.StatusRunning {
		return
	}
	r.Status, r.EndedAt, r.Metrics = status, start.Add(took), metrics
	if err := s.FinishRun(ctx, r); err != nil {
		t.Fatal(err)
	}
}

func TestObserveRunCountsRowsStagesAndScores(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, nil, nil, nil)
	m.ObserveRun(RunReport{Pipeline: "orders", SourceType: "postgres", Status: "succeeded", RowsIn: 100, Loaded: 90, Quarantined: 6,
		Deduplicated: 4, Bytes: 4096, Duration: 3 * time.Second, QualityScore: 87.5, FailedRules: 2,
		Stages: map[string]time.Duration{"extract": time.Second, "stage": 1500 * time.Millisecond, "commit": 500 * time.Millisecond}})
	m.ObserveRun(RunReport{Pipeline: "orders", SourceType: "postgres", Status: "failed", RowsIn: 50, Duration: time.Second,
		QualityScore: math.NaN()})
	m.ObserveRun(RunReport{Pipeline: "events", SourceType: "file", Status: "succeeded", QualityScore: math.NaN()})
	m.ObserveSchedulerLag(2 * time.Second)
	m.ObserveSchedulerLag(-time.Second) // a clock step back counts as on time
	m.ObserveNotification("teams", "sent")

	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.runs.WithLabelValues("orders", "postgres", "succeeded")), 1, "succeeded runs"},
		{testutil.ToFloat64(m.runs.WithLabelValues("orders", "postgres", "failed")), 1, "failed runs"},
		{testutil.ToFloat64(m.rows.WithLabelValues("orders", "postgres", "in")), 150, "rows in"},
		{testutil.ToFloat64(m.rows.WithLabelValues("orders", "postgres", "loaded")), 90, "rows loaded"},
		{testutil.ToFloat64(m.rows.WithLabelValues("orders", "postgres", "quarantined")), 6, "rows quarantined"},
		{testutil.ToFloat64(m.rows.WithLabelValues("orders", "postgres", "deduplicated")), 4, "rows de-duplicated"},
		{testutil.ToFloat64(m.bytes.WithLabelValues("orders", "postgres")), 4096, "bytes"},
		// The failed run read 50 rows and set none aside: its ratio is the last.
		{testutil.ToFloat64(m.quarantine.WithLabelValues("orders")), 0, "quarantine ratio"},
		// A run without rules leaves the last score standing.
		{testutil.ToFloat64(m.quality.WithLabelValues("orders")), 87.5, "quality score"},
		{testutil.ToFloat64(m.failedRules.WithLabelValues("orders")), 2, "failed rules"},
		{testutil.ToFloat64(m.notifications.WithLabelValues("teams", "sent")), 1, "notifications"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.stage); n != 3 {
		t.Errorf("stage histograms %d, want 3 (extract, stage, commit of orders)", n)
	}
	want := `
# HELP shp_scheduler_lag_seconds How long after its due time a scheduled run started.
# TYPE shp_scheduler_lag_seconds histogram
shp_scheduler_lag_seconds_bucket{le="0.01"} 1
shp_scheduler_lag_seconds_bucket{le="0.05"} 1
shp_scheduler_lag_seconds_bucket{le="0.1"} 1
shp_scheduler_lag_seconds_bucket{le="0.25"} 1
shp_scheduler_lag_seconds_bucket{le="0.5"} 1
shp_scheduler_lag_seconds_bucket{le="1"} 1
shp_scheduler_lag_seconds_bucket{le="2.5"} 2
shp_scheduler_lag_seconds_bucket{le="5"} 2
shp_scheduler_lag_seconds_bucket{le="10"} 2
shp_scheduler_lag_seconds_bucket{le="30"} 2
shp_scheduler_lag_seconds_bucket{le="60"} 2
shp_scheduler_lag_seconds_bucket{le="120"} 2
shp_scheduler_lag_seconds_bucket{le="300"} 2
shp_scheduler_lag_seconds_bucket{le="600"} 2
shp_scheduler_lag_seconds_bucket{le="1800"} 2
shp_scheduler_lag_seconds_bucket{le="3600"} 2
shp_scheduler_lag_seconds_bucket{le="7200"} 2
shp_scheduler_lag_seconds_bucket{le="+Inf"} 2
shp_scheduler_lag_seconds_sum 2
shp_scheduler_lag_seconds_count 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "shp_scheduler_lag_seconds"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestStoreGaugesFreshnessStatusAndHealing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	// orders: a success 2 h ago whose newest event was 30 min older than its start, then a failure.
	addRun(t, s, "orders", "r1", metadata.StatusSucceeded, now.Add(-2*time.Hour), time.Minute, map[string]float64{"freshness_s": 1800})
	addRun(t, s, "orders", "r2", metadata.StatusFailed, now.Add(-time.Hour), time.Minute, nil)
	addRun(t, s, "orders", "r3", metadata.StatusRunning, now.Add(-time.Minute), 0, nil)
	// events: never succeeded.
	addRun(t, s, "events", "e1", metadata.StatusHeld, now.Add(-3*time.Hour), time.Minute, nil)
	for _, a := range []struct{ strategy, status string }{
		{"normalize", "applied"}, {"normalize", "applied"}, {"normalize", "rolled_back"}, {"dedupe", "approved"}, {"dedupe", "proposed"},
		// A hold approved, and the action that released it: one decision.
		{"hold", "approved"}, {"hold", "applied"},
	} {
		if _, err := s.RecordAction(ctx, metadata.HealingAction{RunID: "r1", Pipeline: "orders", Strategy: a.strategy, Status: a.status}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg, s, func() time.Time { return now }, nil)
	want := `
# HELP shp_healing_actions Self-healing actions on record by pipeline, strategy and outcome (their status now: an action proposed, then approved, moves).
# TYPE shp_healing_actions gauge
shp_healing_actions{outcome="applied",pipeline="orders",strategy="hold"} 1
shp_healing_actions{outcome="applied",pipeline="orders",strategy="normalize"} 2
shp_healing_actions{outcome="approved",pipeline="orders",strategy="dedupe"} 1
shp_healing_actions{outcome="approved",pipeline="orders",strategy="hold"} 1
shp_healing_actions{outcome="proposed",pipeline="orders",strategy="dedupe"} 1
shp_healing_actions{outcome="rolled_back",pipeline="orders",strategy="normalize"} 1
# HELP shp_healing_success_ratio Self-healing success rate: actions applied, approved or resolved over those plus the ones rolled back or failed.
# TYPE shp_healing_success_ratio gauge
shp_healing_success_ratio{pipeline="orders"} 0.8
# HELP shp_pipeline_freshness_seconds Age of the newest event the pipeline loaded (event_time), now.
# TYPE shp_pipeline_freshness_seconds gauge
shp_pipeline_freshness_seconds{pipeline="orders"} 9000
# HELP shp_pipeline_last_run_status 1 for the status of the pipeline's last finished run, 0 for the others.
# TYPE shp_pipeline_last_run_status gauge
shp_pipeline_last_run_status{pipeline="events",status="failed"} 0
shp_pipeline_last_run_status{pipeline="events",status="held"} 1
shp_pipeline_last_run_status{pipeline="events",status="succeeded"} 0
shp_pipeline_last_run_status{pipeline="orders",status="failed"} 1
shp_pipeline_last_run_status{pipeline="orders",status="held"} 0
shp_pipeline_last_run_status{pipeline="orders",status="succeeded"} 0
# HELP shp_pipeline_seconds_since_success Age of the pipeline's last successful run.
# TYPE shp_pipeline_seconds_since_success gauge
shp_pipeline_seconds_since_success{pipeline="orders"} 7140
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "shp_healing_actions", "shp_healing_success_ratio",
		"shp_pipeline_freshness_seconds", "shp_pipeline_last_run_status", "shp_pipeline_seconds_since_success"); err != nil {
		t.Error(err)
	}
	states, err := PipelineStates(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || !states[1].Running || states[1].Last.ID != "r2" || !states[0].LastSuccess.IsZero() || states[1].LastSuccess.IsZero() {
		t.Errorf("states %+v", states)
	}
}

// failingStore fails every read.
type failingStore struct{ metadata.Store }

func (failingStore) ListPipelines(context.Context) ([]metadata.Pipeline, error) {
	return nil, errors.New("store down")
}

func TestStoreGaugesWhenTheStoreIsDown(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg, failingStore{}, nil, nil)
	if n, err := testutil.GatherAndCount(reg, "shp_pipeline_last_run_status"); err != nil || n != 0 {
		t.Fatalf("%d series, %v; want none and no error", n, err)
	}
}

func TestMetricLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg, openStore(t), nil, nil)
	m.ObserveRun(RunReport{Pipeline: "p", SourceType: "file", Status: "succeeded", Stages: map[string]time.Duration{"stage": 1}})
	allowed := map[string]bool{"pipeline": true, "source_type": true, "stage": true, "strategy": true, "outcome": true, "severity": true,
		"status": true, "receiver": true}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, met := range mf.GetMetric() {
			for _, l := range met.GetLabel() {
				if !allowed[l.GetName()] {
					t.Errorf("%s has label %q", mf.GetName(), l.GetName())
				}
			}
		}
	}
}
