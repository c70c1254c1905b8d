package main

import (
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/testutil/bqemulator"
)

// TestQuickstartOnBigQuery runs examples/quickstart with the real binary
// against the BigQuery emulator, started in this test process, its
// config.yaml changed in one line (the warehouse section, as the README
// says). The run's row accounting and the target match the DuckDB quick
// start's; a second run changes nothing; shp query runs GoogleSQL on the
// targets' dataset; the run records what its jobs cost.
func TestQuickstartOnBigQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary and loads into the BigQuery emulator; skipped with -short")
	}
	url := bqemulator.Start(t, "shp-test")
	_, shp := quickstartOn(t, "warehouse: {type: bigquery, project: shp-test, dataset: analytics, endpoint: "+url+"}\n", nil)

	shp("config", "validate")
	if out := shp("run"); !strings.Contains(out, quickstartAccounting) {
		t.Fatalf("the first run's summary lacks %q:\n%s", quickstartAccounting, out)
	}
	if got := salesCount(shp); got != "3746,3746" {
		t.Fatalf("sales holds count, distinct ids %s, want 3746,3746", got)
	}
	if out := shp("query", "--format", "csv", "SELECT count(*) FROM sales__quarantine"); !strings.Contains(out, "\n3\n") {
		t.Errorf("sales__quarantine:\n%s", out)
	}
	if out := shp("run"); !strings.Contains(out, "no new files") {
		t.Errorf("the second run:\n%s", out)
	}
	if got := salesCount(shp); got != "3746,3746" {
		t.Errorf("after the second run, count, distinct ids %s, want 3746,3746", got)
	}
	if runs := shp("runs", "--format", "json"); !strings.Contains(runs, `"warehouse_jobs"`) {
		t.Errorf("the runs record no warehouse cost:\n%s", runs)
	}
}
