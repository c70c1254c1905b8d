package api

import (
	"bytes"
	"context"
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

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/service"
	_ "github.com/shp-dev/shp/internal/source/apisource" // the api source type
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// runsPage is GET /runs's answer.
type runsPage struct {
	Items []service.RunView `json:"items"`
}

// TestGhostRunsReadAsFailed: a run whose process stopped heartbeating
// longer ago than its lease is not listed as running by GET /runs
// ?status=running, reads as failed ("abandoned") in GET /runs/{id}, and
// is its pipeline's failed last_run; a run that heartbeats stays running.
func TestGhostRunsReadAsFailed(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		ctx := context.Background()
		old := time.Now().Add(-10 * time.Minute)
		must(t, e.store.CreateRun(ctx, metadata.Run{ID: "run-ghost", Pipeline: "items", StartedAt: old,
			Owner: "elsewhere/4242/0badf00d", HeartbeatAt: old, Lease: 2 * time.Minute}))
		must(t, e.store.RecordTask(ctx, metadata.TaskAttempt{RunID: "run-ghost", Task: "extract feed", Attempt: 1, Status: "running", StartedAt: old}))
		must(t, e.store.CreateRun(ctx, metadata.Run{ID: "run-live", Pipeline: "events", StartedAt: old, Owner: "elsewhere/4243/0badf00d"}))

		var running runsPage
		e.get("/api/v1/runs?status=running", service.Viewer, &running)
		if len(running.Items) != 1 || running.Items[0].ID != "run-live" {
			t.Fatalf("running runs %+v, want run-live only", running.Items)
		}
		var ghost service.RunDetail
		e.get("/api/v1/runs/run-ghost", service.Viewer, &ghost)
		want := "abandoned: the process running it (owner elsewhere/4242/0badf00d) stopped heartbeating at " + old.UTC().Format(time.RFC3339)
		if ghost.Status != "failed" || !strings.HasPrefix(ghost.Error, want) || ghost.EndedAt == nil {
			t.Errorf("GET /runs/run-ghost = %s %q ended %v, want failed with %q", ghost.Status, ghost.Error, ghost.EndedAt, want)
		}
		if len(ghost.Tasks) != 1 || ghost.Tasks[0].Status != "failed" || ghost.Tasks[0].EndedAt == nil {
			t.Errorf("the abandoned run's tasks %+v, want its extract failed", ghost.Tasks)
		}
		var items service.PipelineView
		e.get("/api/v1/pipelines/items", service.Viewer, &items)
		if items.LastRun == nil || items.LastRun.ID != "run-ghost" || items.LastRun.Status != "failed" || items.LastRun.EndTime == nil {
			t.Errorf("last_run of items %+v, want run-ghost failed", items.LastRun)
		}
		var events service.PipelineView
		e.get("/api/v1/pipelines/events", service.Viewer, &events)
		if events.LastRun == nil || events.LastRun.Status != "running" {
			t.Errorf("last_run of events %+v, want running", events.LastRun)
		}
	})
}

// Environment of the child process of TestKilledRunIsAbandoned.
const (
	ghostDirEnv   = "SHP_TEST_GHOST_DIR"
	ghostOwnerEnv = "SHP_TEST_GHOST_OWNER"
	ghostLeaseEnv = "SHP_TEST_GHOST_LEASE"
)

// TestKilledRunIsAbandoned runs a pipeline in a child process (this test
// binary again) whose API source never answers, kills the child with
// SIGKILL mid-run, and reads the run through the REST API: it is listed
// as running while its process heartbeats, for several leases, and once
// the process is dead it is failed ("abandoned") and its pipeline's
// last_run says so. With an owner of another host only the lease can
// tell: within the lease of the kill. With the child's own name (this
// host, its pid gone): at once.
func TestKilledRunIsAbandoned(t *testing.T) {
	if dir := os.Getenv(ghostDirEnv); dir != "" {
		runGhostChild(t, dir)
		return
	}
	t.Run("lease", func(t *testing.T) {
		const lease = time.Second
		g := startGhost(t, "elsewhere/4242/0badf00d", lease)
		// Alive for three leases: always running.
		for deadline := time.Now().Add(3 * lease); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if ids := g.running(); len(ids) != 1 || ids[0] != g.runID {
				t.Fatalf("a live run is not listed as running: %v", ids)
			}
		}
		killed := g.kill()
		for len(g.running()) != 0 {
			if time.Since(killed) > lease+3*time.Second {
				t.Fatalf("the killed run still reads running %s after the kill (lease %s)", time.Since(killed), lease)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("abandoned %s after the kill (lease %s)", time.Since(killed).Round(time.Millisecond), lease)
		g.checkAbandoned("abandoned: the process running it (owner elsewhere/4242/0badf00d) stopped heartbeating at ", "(lease 1s)")
	})
	t.Run("dead process", func(t *testing.T) {
		// A lease far longer than the test: only the dead pid can tell.
		g := startGhost(t, "", time.Hour)
		time.Sleep(500 * time.Millisecond)
		if ids := g.running(); len(ids) != 1 {
			t.Fatalf("a live run is not listed as running: %v", ids)
		}
		g.kill()
		if ids := g.running(); len(ids) != 0 {
			t.Fatalf("the killed run still reads running: %v", ids)
		}
		g.checkAbandoned("abandoned: the process running it (owner ", fmt.Sprintf("(process %d is gone)", g.child.Process.Pid))
	})
}

// ghost is a child process running a pipeline, and an API over the same
// metadata store.
type ghost struct {
	t      *testing.T
	child  *exec.Cmd
	exited chan struct{} // closed once the child has ended
	out    *bytes.Buffer
	api    *httptest.Server
	key    string
	runID  string
	store  metadata.Store
}

// startGhost writes a project whose pipeline feed reads an API that
// never answers, starts the child that runs it (as owner, "" for its
// own name) and returns once the run waits on the API.
func startGhost(t *testing.T, owner string, lease time.Duration) *ghost {
	t.Helper()
	ctx := context.Background()
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
	files := map[string]string{
		"config.yaml":  "project: ghost\nstaging:\n  url: mem://\npipelines:\n  feed:\n    source: feed\n",
		"sources.yaml": "sources:\n  feed:\n    type: api\n    url: " + src.URL + "/items\n",
	}
	for name, body := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	p, err := config.LoadDir(dir)
	must(t, err)
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, "meta.db"))
	must(t, err)
	t.Cleanup(func() { store.Close() })
	svc := &service.Service{Project: p, Store: store}
	key, _, err := svc.CreateKey(ctx, "test", service.Viewer, 0, "test")
	must(t, err)
	api := httptest.NewServer((&Server{Service: svc}).Handler())
	t.Cleanup(api.Close)

	g := &ghost{t: t, out: &bytes.Buffer{}, api: api, key: key, store: store}
	g.child = exec.Command(os.Args[0], "-test.run=^TestKilledRunIsAbandoned$", "-test.v")
	g.child.Env = append(os.Environ(), ghostDirEnv+"="+dir, ghostOwnerEnv+"="+owner, ghostLeaseEnv+"="+lease.String())
	g.child.Stdout, g.child.Stderr = g.out, g.out
	must(t, g.child.Start())
	g.exited = make(chan struct{})
	go func() { _ = g.child.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		_ = g.child.Process.Kill()
		<-g.exited
		if t.Failed() {
			t.Logf("child output:\n%s", g.out)
		}
	})
	select {
	case <-arrived:
	case <-g.exited:
		t.Fatal("the child ended before its run started")
	case <-time.After(time.Minute):
		t.Fatal("the child's run did not start")
	}
	ids := g.running()
	if len(ids) != 1 {
		t.Fatalf("running runs %v, want the child's", ids)
	}
	g.runID = ids[0]
	r, err := store.GetRun(ctx, g.runID)
	must(t, err)
	if owner != "" && r.Owner != owner || owner == "" && !strings.Contains(r.Owner, fmt.Sprintf("/%d/", g.child.Process.Pid)) || r.Lease != lease {
		t.Fatalf("the child's run has owner %q lease %s, want %q (pid %d) and %s", r.Owner, r.Lease, owner, g.child.Process.Pid, lease)
	}
	return g
}

// get reads path from the API into v.
func (g *ghost) get(path string, v any) {
	g.t.Helper()
	req, _ := http.NewRequest("GET", g.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+g.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	must(g.t, json.NewDecoder(resp.Body).Decode(v))
}

// running lists the ids GET /runs?status=running answers.
func (g *ghost) running() []string {
	g.t.Helper()
	var page runsPage
	g.get("/api/v1/runs?status=running", &page)
	var ids []string
	for _, r := range page.Items {
		ids = append(ids, r.ID)
	}
	return ids
}

// kill ends the child with SIGKILL and returns when it is dead.
func (g *ghost) kill() time.Time {
	g.t.Helper()
	must(g.t, g.child.Process.Signal(syscall.SIGKILL))
	<-g.exited
	return time.Now()
}

// checkAbandoned checks the killed run through the API: failed, with an
// end, an error with prefix and detail, and the last_run of feed.
func (g *ghost) checkAbandoned(prefix, detail string) {
	g.t.Helper()
	var run service.RunDetail
	g.get("/api/v1/runs/"+g.runID, &run)
	if run.Status != "failed" || !strings.HasPrefix(run.Error, prefix) || !strings.Contains(run.Error, detail) || run.EndedAt == nil {
		g.t.Errorf("the killed run = %s %q ended %v, want failed with %q ... %q", run.Status, run.Error, run.EndedAt, prefix, detail)
	}
	for _, task := range run.Tasks {
		if task.Status == "running" {
			g.t.Errorf("the killed run's task %s still reads running", task.Task)
		}
	}
	var feed service.PipelineView
	g.get("/api/v1/pipelines/feed", &feed)
	if feed.LastRun == nil || feed.LastRun.ID != g.runID || feed.LastRun.Status != "failed" || feed.LastRun.EndTime == nil {
		g.t.Errorf("last_run of feed = %+v, want the killed run failed", feed.LastRun)
	}
}

// runGhostChild is the child process: it runs pipeline feed of the
// project in dir with the owner and lease the parent chose, and never
// ends by itself (its source does not answer).
func runGhostChild(t *testing.T, dir string) {
	ctx := context.Background()
	lease, err := time.ParseDuration(os.Getenv(ghostLeaseEnv))
	must(t, err)
	p, err := config.LoadDir(dir)
	must(t, err)
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, "meta.db"))
	must(t, err)
	wh, err := duckdb.Open(ctx, warehouse.Options{Path: filepath.Join(dir, "w.duckdb"), TempDir: filepath.Join(dir, "tmp")})
	must(t, err)
	bucket, err := staging.Open(ctx, p.StagingURL())
	must(t, err)
	r := &pipeline.Runner{Project: p, Store: store, Warehouse: wh, Staging: bucket, Owner: os.Getenv(ghostOwnerEnv), Lease: lease}
	res, err := r.Run(ctx, "feed", pipeline.Options{})
	t.Fatalf("the run ended: %+v, %v", res, err)
}
