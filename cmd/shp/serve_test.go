package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type runRecord struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	Trigger     string     `json:"trigger"`
	LogicalDate *time.Time `json:"logical_date"`
	Error       string     `json:"error"`
}

func listRuns(t *testing.T, bin, dir string) []runRecord {
	t.Helper()
	out, err := exec.Command(bin, "runs", "--config", dir, "--format", "json", "--limit", "0").Output()
	if err != nil {
		t.Fatalf("runs: %v", err)
	}
	var runs []runRecord
	if err := json.Unmarshal(out, &runs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return runs
}

// TestKilledServeResumes kills a real `shp serve` with SIGKILL in the
// middle of a scheduled run, starts it again with --resume-abandoned, and
// checks that the dead run is marked failed, its interval runs again and
// succeeds, and every row is in the target exactly once.
func TestKilledServeResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin := buildShp(t)
	dir := t.TempDir()
	const files, rows = 12, 40000
	writeOrders(t, dir, files, rows)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: serve\npipelines:\n  orders:\n    source: orders\n    mode: append\n    schedule: '@every 1s'\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  orders:\n    type: file\n    path: data/*.csv\n    schema: schema.json\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "schema.json"), []byte(`[{"name":"order_id","type":"INTEGER","mode":"REQUIRED"},{"name":"customer","type":"STRING"},{"name":"amount","type":"NUMERIC"},{"name":"note","type":"STRING"}]`), 0o644)

	serve := exec.Command(bin, "serve", "--config", dir)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the first scheduled run to start, then kill the scheduler.
	deadline := time.Now().Add(20 * time.Second)
	var killed runRecord
	for time.Now().Before(deadline) && killed.ID == "" {
		time.Sleep(50 * time.Millisecond)
		out, err := exec.Command(bin, "runs", "--config", dir, "--format", "json", "--status", "running").Output()
		if err != nil {
			continue
		}
		var runs []runRecord
		if json.Unmarshal(out, &runs) == nil && len(runs) > 0 {
			killed = runs[0]
		}
	}
	serve.Process.Signal(syscall.SIGKILL)
	serve.Wait()
	if killed.ID == "" {
		t.Fatal("no scheduled run started")
	}

	again := exec.Command(bin, "serve", "--config", dir, "--resume-abandoned", "--lease", "1s")
	var stderr strings.Builder
	again.Stderr = &stderr
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	// Let it work until the killed interval has run again, then stop it
	// as a service manager would.
	deadline = time.Now().Add(60 * time.Second)
	resumed := false
	for time.Now().Before(deadline) && !resumed {
		time.Sleep(200 * time.Millisecond)
		out, err := exec.Command(bin, "runs", "--config", dir, "--format", "json", "--limit", "0").Output()
		if err != nil {
			continue
		}
		var runs []runRecord
		json.Unmarshal(out, &runs)
		for _, r := range runs {
			if r.ID != killed.ID && r.Status == "succeeded" && r.LogicalDate != nil && r.LogicalDate.Equal(*killed.LogicalDate) {
				resumed = true
			}
		}
	}
	again.Process.Signal(syscall.SIGTERM)
	if err := again.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !resumed {
		t.Fatalf("the killed interval did not run again:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "shp serve: stopped") {
		t.Errorf("serve did not stop cleanly:\n%s", stderr.String())
	}
	for _, r := range listRuns(t, bin, dir) {
		if r.ID == killed.ID && (r.Status != "failed" || !strings.Contains(r.Error, "abandoned")) {
			t.Errorf("the killed run is %s (%s), want failed as abandoned", r.Status, r.Error)
		}
	}
	out, err := exec.Command(bin, "query", "--config", dir, "--format", "csv", "SELECT count(*), count(DISTINCT order_id) FROM orders").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "480000,480000") {
		t.Fatalf("target holds %q, want every one of 480000 rows once", got)
	}
}
