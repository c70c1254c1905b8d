package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestRunsShowWarehouseCost: `runs show` prints what a run's warehouse
// jobs cost when the run recorded it, and no such line otherwise.
func TestRunsShowWarehouseCost(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: costs\npipelines:\n  orders:\n    source: files\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  files:\n    type: file\n    path: data/*.csv\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".shp"), 0o755)
	ctx := context.Background()
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, ".shp", "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
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
