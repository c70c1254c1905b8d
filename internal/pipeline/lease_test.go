package pipeline

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/lineage"
	"github.com/shp-dev/shp/internal/metadata"
)

// TestRunHeartbeatsWhileItRuns: a run records this process as its owner
// and heartbeats while it goes on, so that sweeps over several leases
// leave it running; it ends as it ended, and stops heartbeating.
func TestRunHeartbeatsWhileItRuns(t *testing.T) {
	e := newEnv(t, "    mode: append\n")
	ctx := context.Background()
	const lease = 300 * time.Millisecond
	e.runner.Lease = lease
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.runner.OnProgress = func(p Progress) {
		if p.Done {
			once.Do(func() { close(blocked); <-release })
		}
	}
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.runner.Run(ctx, "p", Options{})
		done <- outcome{res, err}
	}()
	select {
	case <-blocked:
	case o := <-done:
		t.Fatalf("the run ended before it was held: %+v %v", o.res, o.err)
	}
	runs, err := e.store.ListRuns(ctx, metadata.RunFilter{Status: metadata.StatusRunning})
	if err != nil || len(runs) != 1 {
		t.Fatalf("running runs %+v, %v", runs, err)
	}
	first := runs[0]
	if first.Owner != metadata.ProcessOwner() || first.Lease != lease {
		t.Fatalf("running run owner %q lease %s, want %q and %s", first.Owner, first.Lease, metadata.ProcessOwner(), lease)
	}
	// Sweep over four leases: the run heartbeats and is never marked.
	deadline := time.Now().Add(4 * lease)
	for time.Now().Before(deadline) {
		gone, err := metadata.AbandonRuns(ctx, e.store)
		if err != nil || len(gone) != 0 {
			t.Fatalf("a sweep marked a live run: %+v, %v", gone, err)
		}
		time.Sleep(lease / 10)
	}
	now, err := e.store.GetRun(ctx, first.ID)
	if err != nil || now.Status != metadata.StatusRunning || !now.HeartbeatAt.After(first.HeartbeatAt) || time.Since(now.HeartbeatAt) > lease {
		t.Fatalf("run after four leases = %s, heartbeat %v (first %v), %v", now.Status, now.HeartbeatAt, first.HeartbeatAt, err)
	}
	close(release)
	o := <-done
	if o.err != nil || o.res.Status != metadata.StatusSucceeded {
		t.Fatalf("run %+v, %v", o.res, o.err)
	}
	end, _ := e.store.GetRun(ctx, first.ID)
	time.Sleep(2 * lease / 3)
	after, _ := e.store.GetRun(ctx, first.ID)
	if end.Status != metadata.StatusSucceeded || !after.HeartbeatAt.Equal(end.HeartbeatAt) {
		t.Errorf("finished run %s, heartbeat %v then %v: want succeeded, no more heartbeats", end.Status, end.HeartbeatAt, after.HeartbeatAt)
	}
}

// TestRunEndsDeadProcessesRuns: a run starting marks failed the runs a
// dead process left running, of every pipeline: past their lease, or of a
// process of this host that ended. Each ends for lineage with a FAIL
// event that carries the reason. A run that heartbeats is left alone.
func TestRunEndsDeadProcessesRuns(t *testing.T) {
	e := newEnv(t, "    mode: append\n")
	ctx := context.Background()
	e.runner.Lineage = lineage.New(e.runner.Project, e.store, "", nil)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	host, _, _ := strings.Cut(metadata.ProcessOwner(), "/")
	deadOwner := fmt.Sprintf("%s/%d/0badf00d", host, cmd.Process.Pid)
	old := time.Now().Add(-time.Hour)
	for _, r := range []metadata.Run{
		{ID: "run-stale", Pipeline: "other", Owner: "elsewhere/1/a", HeartbeatAt: old, Lease: time.Minute},
		{ID: "run-dead", Pipeline: "p", Owner: deadOwner},
		{ID: "run-live", Pipeline: "p", Owner: "elsewhere/2/b"},
	} {
		r.StartedAt = old
		if err := e.store.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.runner.Run(ctx, "p", Options{}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"run-stale": "abandoned: the process running it (owner elsewhere/1/a) stopped heartbeating at " + old.UTC().Format(time.RFC3339),
		"run-dead":  fmt.Sprintf("abandoned: the process running it (owner %s) stopped heartbeating at ", deadOwner),
	} {
		r, err := e.store.GetRun(ctx, id)
		if err != nil || r.Status != metadata.StatusFailed || !strings.HasPrefix(r.Error, want) || r.EndedAt.IsZero() {
			t.Errorf("run %s = %s %q ended %v, %v; want failed with %q", id, r.Status, r.Error, r.EndedAt, err, want)
		}
	}
	if r, _ := e.store.GetRun(ctx, "run-live"); r.Status != metadata.StatusRunning {
		t.Errorf("a live run of another host was marked %s (%s)", r.Status, r.Error)
	}
	events, err := e.store.ListLineage(ctx, "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	fail := false
	for _, ev := range events {
		if ev.RunID == "run-dead" && ev.EventType == lineage.Fail && strings.Contains(ev.Payload, "stopped heartbeating") {
			fail = true
		}
	}
	if !fail {
		t.Errorf("no FAIL lineage event with the reason for the dead process's run: %+v", events)
	}
}
