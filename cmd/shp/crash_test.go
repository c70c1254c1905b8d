package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildShp compiles the real binary once per test.
func buildShp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build shp: %v\n%s", err, out)
	}
	return bin
}

// writeOrders writes files×rows order lines with unique ids.
func writeOrders(t *testing.T, dir string, files, rows int) {
	t.Helper()
	id := 0
	for f := 0; f < files; f++ {
		p := filepath.Join(dir, "data", fmt.Sprintf("orders_%02d.csv", f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		fmt.Fprintln(w, "order_id,customer,amount,note")
		for i := 0; i < rows; i++ {
			id++
			fmt.Fprintf(w, "%d,c%d,%d.%02d,some words to make the row longer %d\n", id, id%977, id%1000, id%100, id)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
}

// TestKilledRunsLoadEveryRowExactlyOnce kills real `shp run` processes with
// SIGKILL at many points of a load, then lets one finish, and checks that
// every row is in the target exactly once.
func TestKilledRunsLoadEveryRowExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin := buildShp(t)
	dir := t.TempDir()
	const files, rows = 12, 40000
	writeOrders(t, dir, files, rows)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: crash\npipelines:\n  orders:\n    source: orders\n    mode: append\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  orders:\n    type: file\n    path: data/*.csv\n    schema: schema.json\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "schema.json"), []byte(`[{"name":"order_id","type":"INTEGER","mode":"REQUIRED"},{"name":"customer","type":"STRING"},{"name":"amount","type":"NUMERIC"},{"name":"note","type":"STRING"}]`), 0o644)

	// Time one undisturbed run in a copy of the project so the kills can be
	// spread over the whole of a load on this machine.
	probe := t.TempDir()
	writeOrders(t, probe, files, rows)
	for _, f := range []string{"config.yaml", "sources.yaml", "schema.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(probe, f), b, 0o644)
	}
	start := time.Now()
	if out, err := exec.Command(bin, "run", "--quiet", "--config", probe).CombinedOutput(); err != nil {
		t.Fatalf("undisturbed run: %v\n%s", err, out)
	}
	full := time.Since(start)

	// Kill at 5%, 15%, ... 95% of an undisturbed run's duration, and once
	// more right after the run reports its first staged object.
	killed := 0
	for pct := 5; pct <= 95; pct += 10 {
		cmd := exec.Command(bin, "run", "--quiet", "--config", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(full * time.Duration(pct) / 100)
		if err := cmd.Process.Kill(); err == nil {
			killed++
		}
		_ = cmd.Wait()
	}
	if killed == 0 {
		t.Fatal("no run was killed mid-load")
	}

	out, err := exec.Command(bin, "run", "--quiet", "--config", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "query", "--config", dir, "--format", "csv",
		"SELECT count(*), count(DISTINCT order_id), min(order_id), max(order_id) FROM orders").CombinedOutput()
	if err != nil {
		t.Fatalf("query: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%d,%d,1,%d", files*rows, files*rows, files*rows)
	if got := strings.Split(strings.TrimSpace(string(out)), "\n")[1]; got != want {
		t.Fatalf("after %d killed runs: count, distinct, min, max = %s, want %s", killed, got, want)
	}
	// Killed runs are not left "running"; the final run's accounting holds.
	out, err = exec.Command(bin, "runs", "--config", dir, "--format", "json", "--limit", "100").CombinedOutput()
	if err != nil {
		t.Fatalf("runs: %v\n%s", err, out)
	}
	if strings.Contains(string(out), `"status": "running"`) {
		t.Fatalf("a killed run is still marked running:\n%s", out)
	}
	t.Logf("killed %d runs of a %s load; all %d rows loaded exactly once", killed, full.Round(time.Millisecond), files*rows)
}
