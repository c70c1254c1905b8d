package monitor

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	prombridge "go.opentelemetry.io/contrib/bridges/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	colmetric "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// TestPipelineMetricsReachOpenTelemetry reads the pipeline metrics through
// OpenTelemetry's Prometheus bridge with a ManualReader, as the OTLP
// export does.
func TestPipelineMetricsReachOpenTelemetry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil, nil, nil)
	m.ObserveRun(RunReport{Pipeline: "orders", SourceType: "postgres", Status: "succeeded", RowsIn: 42, Loaded: 40, Quarantined: 2,
		Duration: 3 * time.Second, QualityScore: math.NaN(), Stages: map[string]time.Duration{"commit": time.Second}})
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(prombridge.NewMetricProducer(prombridge.WithGatherer(reg))))
	sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			found[mt.Name] = true
			if mt.Name == "shp_pipeline_rows_total" {
				sum, ok := mt.Data.(metricdata.Sum[float64])
				if !ok || !sum.IsMonotonic {
					t.Fatalf("rows: %T", mt.Data)
				}
				var in float64
				for _, dp := range sum.DataPoints {
					if v, _ := dp.Attributes.Value("outcome"); v.AsString() == "in" {
						in = dp.Value
					}
				}
				if in != 42 {
					t.Errorf("rows in %v, want 42", in)
				}
			}
		}
	}
	for _, want := range []string{"shp_pipeline_runs_total", "shp_pipeline_rows_total", "shp_pipeline_run_duration_seconds", "shp_pipeline_stage_duration_seconds"} {
		if !found[want] {
			t.Errorf("no %s among %v", want, found)
		}
	}
}

// TestMeteringExportsOverOTLP: with an OTLP endpoint in the environment,
// the metrics are posted to it (at shutdown at the latest); without one,
// nothing is set up.
func TestMeteringExportsOverOTLP(t *testing.T) {
	var mu sync.Mutex
	var names []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/metrics" {
			t.Errorf("path %s", r.URL.Path)
		}
		body, _ := io.ReadAll(r.Body)
		var req colmetric.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("not an OTLP export: %v", err)
		}
		mu.Lock()
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, mt := range sm.Metrics {
					names = append(names, mt.Name)
				}
			}
		}
		mu.Unlock()
	}))
	defer collector.Close()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil, nil, nil)
	m.ObserveRun(RunReport{Pipeline: "p", SourceType: "file", Status: "failed", QualityScore: math.NaN()})
	// The exporter reads the standard variables itself.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}
	stop, err := Metering(context.Background(), func(k string) string { return env[k] }, reg, "t", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(names, ",")
	mu.Unlock()
	if !strings.Contains(got, "shp_pipeline_runs_total") {
		t.Fatalf("exported %q", got)
	}
	env["OTEL_METRICS_EXPORTER"] = "none"
	stop, err = Metering(context.Background(), func(k string) string { return env[k] }, reg, "t", "v1")
	if err != nil || stop(context.Background()) != nil {
		t.Fatalf("off: %v", err)
	}
	tp, stopTraces, err := Tracing(context.Background(), func(string) string { return "" }, "t", "v1")
	if err != nil || tp != nil || stopTraces(context.Background()) != nil {
		t.Fatalf("tracing without an endpoint: %v %v", tp, err)
	}
}
