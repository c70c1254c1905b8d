package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goccy/bigquery-emulator/server"
	"github.com/goccy/bigquery-emulator/types"
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
	srv, err := server.New(server.TempStorage)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Load(server.StructSource(types.NewProject("shp-test"))); err != nil {
		t.Fatal(err)
	}
	ts := srv.TestServer()
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	// The emulator's analyzer (ZetaSQL compiled to Go from WebAssembly)
	// frees what each query allocated only in Go finalizers and crashes
	// once its memory passes 2 GiB: frequent collections keep it under.
	tick := time.NewTicker(2 * time.Second)
	t.Cleanup(tick.Stop)
	go func() {
		for range tick.C {
			runtime.GC()
		}
	}()

	bin := buildShp(t)
	dir := copyQuickstart(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), quickstartWarehouse) {
		t.Fatalf("examples/quickstart/config.yaml has no section\n%s", quickstartWarehouse)
	}
	line := "warehouse: {type: bigquery, project: shp-test, dataset: analytics, endpoint: " + ts.URL + "}\n"
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), quickstartWarehouse, line, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	shp := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--config", dir)...).CombinedOutput()
		if err != nil {
			t.Fatalf("shp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	count := func() string {
		t.Helper()
		out := shp("query", "--format", "csv", "SELECT count(*), count(DISTINCT order_id) FROM sales")
		return strings.TrimSpace(strings.Split(strings.TrimSpace(out), "\n")[1])
	}

	shp("config", "validate")
	out := shp("run")
	const accounting = "rows in 3750 = loaded 3746 + quarantined 3 + de-duplicated 1  [ok]"
	if !strings.Contains(out, accounting) {
		t.Fatalf("the first run's summary lacks %q:\n%s", accounting, out)
	}
	if got := count(); got != "3746,3746" {
		t.Fatalf("sales holds count, distinct ids %s, want 3746,3746", got)
	}
	if out := shp("query", "--format", "csv", "SELECT count(*) FROM sales__quarantine"); !strings.Contains(out, "\n3\n") {
		t.Errorf("sales__quarantine:\n%s", out)
	}
	if out := shp("run"); !strings.Contains(out, "no new files") {
		t.Errorf("the second run:\n%s", out)
	}
	if got := count(); got != "3746,3746" {
		t.Errorf("after the second run, count, distinct ids %s, want 3746,3746", got)
	}
	runs := shp("runs", "--format", "json")
	if !strings.Contains(runs, `"warehouse_jobs"`) {
		t.Errorf("the runs record no warehouse cost:\n%s", runs)
	}
}
