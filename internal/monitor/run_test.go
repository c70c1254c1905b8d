package monitor

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/notify"
	"github.com/shp-dev/shp/internal/pipeline"
)

// TestEngineRunsUntilCancelled: NewEngine builds the receivers of
// monitoring.yaml; Run evaluates at once and when poked, delivers through
// a real webhook, counts it, and stops with its context.
func TestEngineRunsUntilCancelled(t *testing.T) {
	var got atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer hook.Close()
	p, err := loadMonitoring(t, "evaluation_interval: 1s\ngroup_wait: 0s\nreceivers:\n  - {name: hook, type: webhook, url: '"+hook.URL+"'}\n")
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, store, nil, nil)
	eng, err := NewEngine(p, store, m, nil, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addRun(t, store, "orders", "r1", metadata.StatusFailed, time.Now().Add(-time.Minute), time.Second, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Run(ctx)
	}()
	eng.Poke()
	eng.Poke() // never blocks
	deadline := time.Now().Add(20 * time.Second)
	for got.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if got.Load() != 1 {
		t.Fatalf("%d deliveries, want 1", got.Load())
	}
	if v := testutil.ToFloat64(m.notifications.WithLabelValues("hook", "sent")); v != 1 {
		t.Errorf("sent counter %v", v)
	}
}

func TestNewEngineRefusesBadConfigAndStores(t *testing.T) {
	p, err := loadMonitoring(t, "")
	if err != nil {
		t.Fatal(err)
	}
	p.Monitoring = map[string]any{"rules": "nope"}
	if _, err := NewEngine(p, openStore(t), nil, nil, notify.Options{}); err == nil || !strings.Contains(err.Error(), "monitoring.yaml") {
		t.Errorf("a bad monitoring config: %v", err)
	}
	p.Monitoring = nil
	if _, err := NewEngine(p, failingStore{}, nil, nil, notify.Options{}); err == nil {
		t.Error("a store without alerts accepted")
	}
}

func TestReportOfAResult(t *testing.T) {
	res := &pipeline.Result{Pipeline: "orders", Status: "failed", RowsIn: 10, Loaded: 0, Quarantined: 2, Duration: time.Second,
		Objects: []pipeline.ObjectResult{
			{Key: "a.csv", Format: format.CSV, Bytes: 100, Quality: &pipeline.QualityOutcome{Score: 80, Failed: []string{"x", "y"}}},
			{Key: "b.csv", Format: format.CSV, Bytes: 50, Quality: &pipeline.QualityOutcome{Score: 100}},
		}}
	r := ReportOf(res)
	if r.SourceType != "unknown" || r.Bytes != 150 || r.FailedRules != 2 || r.QualityScore != 90 {
		t.Errorf("uncommitted run: %+v", r)
	}
	res.Metrics = map[string]float64{"quality_score": 75}
	res.Objects = nil
	res.SourceType = "file"
	if r := ReportOf(res); r.QualityScore != 75 || r.SourceType != "file" {
		t.Errorf("with batch metrics: %+v", r)
	}
	res.Metrics = nil
	if r := ReportOf(res); !math.IsNaN(r.QualityScore) {
		t.Errorf("no rules, score %v", r.QualityScore)
	}
}
