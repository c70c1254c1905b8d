package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestRunsShowWarehouseCost: `runs show` prints what a run's warehouse
// jobs cost when the run recorded it, and no such line otherwise.
// costProject is a project of the pipelines named, reading files, with
// its metadata store open.
func costProject(t *testing.T, pipelines ...string) (string, metadata.Store) {
	t.Helper()
	dir := t.TempDir()
	cfg := "project: costs\npipelines:\n"
	for _, p := range pipelines {
		cfg += "  " + p + ":\n    source: files\n"
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  files:\n    type: file\n    path: data/*.csv\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".shp"), 0o755)
	store, err := metadata.Open(context.Background(), metadata.KindSQLite, filepath.Join(dir, ".shp", "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, store
}

func TestRunsShowWarehouseCost(t *testing.T) {
	dir, store := costProject(t, "orders")
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for id, metrics := range map[string]map[string]float64{
		"run-billed": {"warehouse_jobs": 12, "warehouse_bytes_processed": 1536, "warehouse_bytes_billed": 30 << 20, "warehouse_slot_ms": 4567, "quality_score": 100},
		"run-free":   {"quality_score": 100},
	} {
		if err := store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: "orders", StartedAt: at, Trigger: "manual"}); err != nil {
			t.Fatal(err)
		}
		if err := store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(time.Minute), InvariantOK: true, Metrics: metrics}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	code, out, errOut := shp(t, "runs", "show", "run-billed", "--config", dir)
	want := "  warehouse: 12 jobs, 1.5 KiB processed, 30.0 MiB billed, 4567 slot-ms\n"
	if code != 0 || !strings.Contains(out, "  rows in 0 = loaded 0 + quarantined 0 + de-duplicated 0\n"+want) {
		t.Fatalf("runs show: %d\n%s%s\nwant the line\n%s", code, out, errOut, want)
	}
	code, out, _ = shp(t, "runs", "show", "run-billed", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"warehouse": {`) || !strings.Contains(out, `"bytes_billed": 31457280`) {
		t.Fatalf("runs show json: %d %s", code, out)
	}
	code, out, _ = shp(t, "runs", "show", "run-free", "--config", dir)
	if code != 0 || strings.Contains(out, "warehouse:") {
		t.Fatalf("runs show of a run without cost: %d %s", code, out)
	}
}

// TestOptimizeCost: `optimize cost` sums the runs of each day by
// pipeline, priced as each run recorded it, with a total per pipeline;
// days out of range and pipelines that are not there are refused.
func TestOptimizeCost(t *testing.T) {
	dir, store := costProject(t, "orders", "events")
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, r := range []struct {
		id, pipeline string
		at           time.Time
		tib          float64
	}{
		{"o1", "orders", today.Add(time.Second), 1},
		{"o2", "orders", today.Add(2 * time.Second), 0.5},
		{"o3", "orders", today.Add(-time.Hour), 2},
		{"e1", "events", today.Add(-2 * time.Hour), 0},
	} {
		metrics := map[string]float64{"warehouse_jobs": 3, "warehouse_bytes_processed": r.tib * (1 << 40), "warehouse_bytes_billed": r.tib * (1 << 40),
			"warehouse_slot_ms": 100, "warehouse_cost_usd": r.tib * 6.25}
		if r.tib == 0 {
			metrics = nil // DuckDB: no bill
		}
		if err := store.CreateRun(ctx, metadata.Run{ID: r.id, Pipeline: r.pipeline, StartedAt: r.at, Trigger: "manual"}); err != nil {
			t.Fatal(err)
		}
		if err := store.FinishRun(ctx, metadata.Run{ID: r.id, Status: "succeeded", EndedAt: r.at.Add(90 * time.Second), InvariantOK: true, Metrics: metrics}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	code, out, errOut := shp(t, "optimize", "cost", "--config", dir)
	day, yesterday := today.Format(time.DateOnly), today.Add(-time.Hour).Format(time.DateOnly)
	for _, want := range []string{
		day + "  orders    2     3m0s      6     1.5 TiB    1.5 TiB  200      $9.3750",
		yesterday + "  events    1     1m30s     0     0 B        0 B      0        $0.0000",
		yesterday + "  orders    1     1m30s     3     2.0 TiB    2.0 TiB  100      $12.5000",
		"total       orders    3     4m30s     9     3.5 TiB    3.5 TiB  300      $21.8750",
		"priced at $6.25 per TiB billed",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("optimize cost: %d %s\n%s\nwant the line %q", code, out, errOut, want)
		}
	}
	code, out, _ = shp(t, "optimize", "cost", "--config", dir, "--days", "1", "--pipeline", "orders", "--format", "json")
	if code != 0 || strings.Count(out, `"day"`) != 1 || !strings.Contains(out, `"cost_usd": 9.375`) {
		t.Fatalf("today's orders as JSON: %d %s", code, out)
	}
	for _, args := range [][]string{{"--days", "0"}, {"--pipeline", "nope"}, {"--format", "yaml"}} {
		if code, _, errOut := shp(t, append([]string{"optimize", "cost", "--config", dir}, args...)...); code == 0 || errOut == "" {
			t.Errorf("%v: %d %s", args, code, errOut)
		}
	}
}

// TestOptimizePricing: `optimize pricing` weighs on demand against
// capacity pricing for the runs' slot usage: a day of steady heavy runs
// is cheaper in a reservation, a rare burst on demand; without slot
// usage there is nothing to analyse; days out of range, pipelines that
// are not there and unknown formats are refused.
func TestOptimizePricing(t *testing.T) {
	dir, store := costProject(t, "orders", "events", "local")
	ctx := context.Background()
	yesterday := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	rec := func(id, pipeline string, at time.Time, d time.Duration, metrics map[string]float64) {
		t.Helper()
		if err := store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: pipeline, StartedAt: at, Trigger: "manual"}); err != nil {
			t.Fatal(err)
		}
		if err := store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(d), InvariantOK: true, Metrics: metrics}); err != nil {
			t.Fatal(err)
		}
	}
	bq := func(slots float64, d time.Duration, tib float64) map[string]float64 {
		return map[string]float64{"warehouse_jobs": 4, "warehouse_bytes_processed": tib * (1 << 40), "warehouse_bytes_billed": tib * (1 << 40),
			"warehouse_slot_ms": slots * float64(d/time.Millisecond), "warehouse_cost_usd": tib * 6.25}
	}
	// orders: every hour of yesterday, an hour on 220 slots, 2 TiB billed:
	// $300 on demand, 24 × 250 slot-hours = $240 autoscaled.
	for h := range 24 {
		rec(fmt.Sprintf("o%d", h), "orders", yesterday.Add(time.Duration(h)*time.Hour), time.Hour, bq(220, time.Hour, 2))
	}
	// events: 6 minutes on 1000 slots, 0.5 TiB: $3.125 on demand, 100
	// slot-hours = $4 autoscaled.
	rec("e1", "events", yesterday.Add(3*time.Hour), 6*time.Minute, bq(1000, 6*time.Minute, 0.5))
	rec("l1", "local", yesterday.Add(3*time.Hour), time.Minute, nil) // DuckDB: no slots
	store.Close()

	code, out, errOut := shp(t, "optimize", "pricing", "--config", dir, "--days", "2", "--pipeline", "orders")
	for _, want := range []string{
		"BigQuery on demand against capacity pricing, " + yesterday.Format("2006-01-02 15:04") + " to ",
		"runs: 24 with slot usage (0 without), 5280.0 slot-hours, 48.0 TiB billed",
		"on demand ($6.25 per TiB billed)",
		"$300.00",
		"autoscale only ($0.04 per slot-hour)  0",
		"250",
		"6000.0",
		"$240.00",
		"capacity is cheaper: ",
		"over a 30-day month at the same usage (extrapolated): ",
		"note: a run's slots are taken as spread evenly over its run time",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("optimize pricing: %d %s\n%s\nwant %q", code, out, errOut, want)
		}
	}
	code, out, _ = shp(t, "optimize", "pricing", "--config", dir, "--days", "2", "--pipeline", "events")
	if code != 0 || !strings.Contains(out, "on-demand is cheaper: $3.12 for 0.5 TiB billed, against $4.00 for a reservation autoscaling from 0 to 1000 slots") {
		t.Fatalf("a rare burst: %d %s", code, out)
	}
	code, out, _ = shp(t, "optimize", "pricing", "--config", dir, "--pipeline", "local")
	if code != 0 || !strings.Contains(out, "nothing to analyse: no run in the window recorded BigQuery slot usage") ||
		!strings.Contains(out, "note: 1 run recorded no slot usage") || strings.Contains(out, "PLAN") {
		t.Fatalf("no slot usage: %d %s", code, out)
	}
	code, out, _ = shp(t, "optimize", "pricing", "--config", dir, "--days", "2", "--format", "json")
	if code != 0 || !strings.Contains(out, `"runs": 25`) || !strings.Contains(out, `"runs_without_slots": 1`) ||
		!strings.Contains(out, `"on_demand_usd": 303.125`) || !strings.Contains(out, `"cheaper": "capacity"`) || !strings.Contains(out, `"month_extrapolated": {`) {
		t.Fatalf("as JSON: %d %s", code, out)
	}
	for _, args := range [][]string{{"--days", "0"}, {"--days", "401"}, {"--pipeline", "nope"}, {"--format", "yaml"}} {
		if code, _, errOut := shp(t, append([]string{"optimize", "pricing", "--config", dir}, args...)...); code == 0 || errOut == "" {
			t.Errorf("%v: %d %s", args, code, errOut)
		}
	}
}
