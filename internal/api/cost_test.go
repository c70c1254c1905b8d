package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// scrape returns the lines of /metrics that start with prefix.
func (e *env) scrape(prefix string) []string {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	must(e.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// costRun records a finished run of pipeline with a warehouse cost,
// priced at $6.25 per TiB.
func (e *env) costRun(id, pipeline string, at time.Time, billed float64) {
	ctx := context.Background()
	must(e.t, e.store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: pipeline, StartedAt: at, Trigger: "manual"}))
	must(e.t, e.store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(time.Minute), InvariantOK: true,
		Metrics: map[string]float64{"warehouse_jobs": 2, "warehouse_bytes_processed": 1000, "warehouse_bytes_billed": billed, "warehouse_slot_ms": 30,
			"warehouse_cost_usd": billed / (1 << 40) * 6.25}}))
}

// TestCostByDay: the finished runs' cost summed by day and pipeline,
// newest day first, over the days asked for; a pipeline that is not
// there, or days out of range, are refused.
func TestCostByDay(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.Add(-24 * time.Hour)
	e.costRun("run-d1", "orders", today.Add(time.Second), 1<<40)
	e.costRun("run-d2", "orders", today.Add(2*time.Second), 1<<39)
	e.costRun("run-d3", "events", yesterday.Add(23*time.Hour), 1<<38)
	e.costRun("run-d4", "orders", yesterday.Add(-40*24*time.Hour), 1<<40)

	var page service.Page[service.CostDay]
	e.get("/api/v1/optimization/cost", service.Viewer, &page)
	want := []service.CostDay{
		{Day: today.Format(time.DateOnly), Pipeline: "orders", Runs: 2, RunSeconds: 120, WarehouseCost: service.WarehouseCost{Jobs: 4,
			BytesProcessed: 2000, BytesBilled: 3 << 39, SlotMillis: 60, USD: 9.375}},
		{Day: yesterday.Format(time.DateOnly), Pipeline: "events", Runs: 1, RunSeconds: 60, WarehouseCost: service.WarehouseCost{Jobs: 2,
			BytesProcessed: 1000, BytesBilled: 1 << 38, SlotMillis: 30, USD: 1.5625}},
	}
	// (The fixture's own runs, without a bill, are further back.)
	if len(page.Items) < 2 || fmt.Sprint(page.Items[:2]) != fmt.Sprint(want) {
		t.Fatalf("cost by day:\n%+v\nwant\n%+v", page.Items, want)
	}
	e.get("/api/v1/optimization/cost?days=1", service.Viewer, &page)
	if len(page.Items) != 1 || page.Items[0].Pipeline != "orders" {
		t.Errorf("today's cost: %+v", page.Items)
	}
	e.get("/api/v1/optimization/cost?days=60&pipeline=orders", service.Viewer, &page)
	old := false
	for _, d := range page.Items {
		if d.Pipeline != "orders" {
			t.Errorf("orders over 60 days: %+v", d)
		}
		old = old || d.Day == yesterday.Add(-40*24*time.Hour).Format(time.DateOnly) && d.USD == 6.25
	}
	if !old {
		t.Errorf("orders over 60 days: %+v", page.Items)
	}
	for _, q := range []string{"days=0", "days=401", "days=week"} {
		code, h, body := e.do("GET", "/api/v1/optimization/cost?"+q, e.keys[service.Viewer], nil)
		if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "days" {
			t.Errorf("%s: %+v", q, p)
		}
	}
	code, h, body := e.do("GET", "/api/v1/optimization/cost?pipeline=nope", e.keys[service.Viewer], nil)
	if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "pipeline" {
		t.Errorf("an unknown pipeline: %+v", p)
	}
}

// TestWarehouseCost: a run's warehouse cost is in its detail, and the
// cost of the finished runs on record is summed by pipeline into
// Prometheus counters; a run is counted once it has finished, once.
func TestWarehouseCost(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	e.costRun("run-c1", "orders", at, 10<<20)
	e.costRun("run-c2", "orders", at.Add(time.Hour), 20<<20)
	e.costRun("run-c3", "events", at.Add(time.Hour), 10<<20)

	var d service.RunDetail
	e.get("/api/v1/runs/run-c2", service.Viewer, &d)
	if d.Warehouse == nil || *d.Warehouse != (service.WarehouseCost{Jobs: 2, BytesProcessed: 1000, BytesBilled: 20 << 20, SlotMillis: 30,
		USD: float64(20<<20) / (1 << 40) * 6.25}) {
		t.Fatalf("run detail's warehouse cost: %+v", d.Warehouse)
	}
	if d.Metrics["warehouse_bytes_billed"] != 20<<20 {
		t.Fatalf("metrics %v", d.Metrics)
	}
	code, _, body := e.do("GET", "/api/v1/runs/run-0", e.keys[service.Viewer], nil)
	if code != 200 || strings.Contains(string(body), `"warehouse"`) {
		t.Fatalf("a run without cost: %d %s", code, body)
	}

	want := []string{
		`shp_warehouse_bytes_billed_total{pipeline="events"} 1.048576e+07`,
		`shp_warehouse_bytes_billed_total{pipeline="orders"} 3.145728e+07`,
		`shp_warehouse_bytes_processed_total{pipeline="events"} 1000`,
		`shp_warehouse_bytes_processed_total{pipeline="orders"} 2000`,
		`shp_warehouse_jobs_total{pipeline="events"} 2`,
		`shp_warehouse_jobs_total{pipeline="orders"} 4`,
		`shp_warehouse_slot_milliseconds_total{pipeline="events"} 30`,
		`shp_warehouse_slot_milliseconds_total{pipeline="orders"} 60`,
	}
	if got := e.scrape("shp_warehouse_"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("counters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A running run counts once it has finished; the runs counted before
	// are not counted again.
	must(t, e.store.CreateRun(ctx, metadata.Run{ID: "run-c4", Pipeline: "events", StartedAt: at.Add(2 * time.Hour), Trigger: "manual",
		Owner: metadata.ProcessOwner(), Lease: time.Hour}))
	if got := e.scrape(`shp_warehouse_jobs_total{pipeline="events"}`); len(got) != 1 || got[0] != `shp_warehouse_jobs_total{pipeline="events"} 2` {
		t.Fatalf("with a run going on: %v", got)
	}
	must(t, e.store.FinishRun(ctx, metadata.Run{ID: "run-c4", Status: "failed", EndedAt: at.Add(3 * time.Hour),
		Metrics: map[string]float64{"warehouse_jobs": 5, "warehouse_bytes_billed": 1}}))
	e.costRun("run-c5", "orders", at.Add(4*time.Hour), 1)
	for range 2 {
		if got := e.scrape(`shp_warehouse_jobs_total{`); strings.Join(got, "\n") != `shp_warehouse_jobs_total{pipeline="events"} 7`+"\n"+
			`shp_warehouse_jobs_total{pipeline="orders"} 6` {
			t.Fatalf("after the run finished:\n%s", strings.Join(got, "\n"))
		}
	}
}

// TestWarehouseCostWithoutRuns: without cost on record there are no
// warehouse counters; a store that cannot be read keeps the last sums.
func TestWarehouseCostWithoutRuns(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	if got := e.scrape("shp_warehouse_"); len(got) != 0 {
		t.Fatalf("counters without cost: %v", got)
	}
	e.costRun("run-c1", "orders", time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC), 7)
	if got := e.scrape("shp_warehouse_bytes_billed_total"); len(got) != 1 || got[0] != `shp_warehouse_bytes_billed_total{pipeline="orders"} 7` {
		t.Fatalf("counters: %v", got)
	}
	e.store.Close()
	if got := e.scrape("shp_warehouse_bytes_billed_total"); len(got) != 1 || got[0] != `shp_warehouse_bytes_billed_total{pipeline="orders"} 7` {
		t.Fatalf("counters with the store gone: %v", got)
	}
}
