package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKilledRunIsNotLeftRunning kills a real `shp run` with SIGKILL while
// its API source has not answered yet, and checks that the next command
// reading the runs, and nothing else, lists no run as running: the
// killed one is failed, "abandoned", naming its process and the pid gone.
func TestKilledRunIsNotLeftRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary; skipped with -short")
	}
	bin := buildShp(t)
	dir := t.TempDir()
	arrived := make(chan struct{})
	var once sync.Once
	stop := make(chan struct{})
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(src.Close)
	t.Cleanup(func() { close(stop) })
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: ghost\npipelines:\n  feed:\n    source: feed\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  feed:\n    type: api\n    url: "+src.URL+"/items\n"), 0o644)

	run := exec.Command(bin, "run", "--quiet", "--config", dir)
	var out strings.Builder
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(time.Minute):
		run.Process.Kill()
		run.Wait()
		t.Fatalf("the run did not reach its source:\n%s", out.String())
	}
	if running := listRunsWith(t, bin, dir, "--status", "running"); len(running) != 1 {
		t.Fatalf("while the run goes on, running runs = %+v, want it", running)
	}
	run.Process.Signal(syscall.SIGKILL)
	run.Wait()

	if running := listRunsWith(t, bin, dir, "--status", "running"); len(running) != 0 {
		t.Fatalf("after the kill, running runs = %+v, want none", running)
	}
	runs := listRuns(t, bin, dir)
	pid := run.Process.Pid
	want := "abandoned: the process running it (owner "
	if len(runs) != 1 || runs[0].Status != "failed" || !strings.HasPrefix(runs[0].Error, want) ||
		!strings.Contains(runs[0].Error, fmt.Sprintf("/%d/", pid)) || !strings.Contains(runs[0].Error, fmt.Sprintf("(process %d is gone)", pid)) {
		t.Fatalf("runs after the kill = %+v, want the killed run (pid %d) failed with %q...", runs, pid, want)
	}
}

// listRunsWith lists the runs `shp runs` prints with extra flags.
func listRunsWith(t *testing.T, bin, dir string, flags ...string) []runRecord {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"runs", "--config", dir, "--format", "json"}, flags...)...).Output()
	if err != nil {
		t.Fatalf("runs: %v", err)
	}
	var runs []runRecord
	if err := json.Unmarshal(out, &runs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return runs
}
