package scheduler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestTickEndsAbandonedRuns: a tick marks failed the runs whose process
// stopped heartbeating for longer than their lease, whoever started them
// (shp run, a trigger, another scheduler), and tells OnAbandoned; live
// runs and runs nobody heartbeats are left alone.
func TestTickEndsAbandonedRuns(t *testing.T) {
	p := project(t, "  a: {source: s, schedule: '@daily'}\n")
	store := sqliteStore(t)
	ctx := context.Background()
	old := time.Now().Add(-10 * time.Minute)
	for _, r := range []metadata.Run{
		{ID: "run-ghost", Pipeline: "a", Owner: "elsewhere/1/a", HeartbeatAt: old, Lease: time.Minute, Trigger: "manual"},
		{ID: "run-live", Pipeline: "a", Owner: "elsewhere/2/b", Lease: time.Minute},
		{ID: "run-nobody", Pipeline: "a"},
	} {
		r.StartedAt = old
		if err := store.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var heard []metadata.Run
	s := &Scheduler{Project: p, Store: store, Execute: (&recorder{}).exec, Clock: &fakeClock{now: time.Now()}, Owner: "alive",
		OnAbandoned: func(r metadata.Run) { mu.Lock(); heard = append(heard, r); mu.Unlock() }}
	tick(t, s)
	ghost, err := store.GetRun(ctx, "run-ghost")
	if err != nil {
		t.Fatal(err)
	}
	want := "abandoned: the process running it (owner elsewhere/1/a) stopped heartbeating at " + old.UTC().Format(time.RFC3339)
	if ghost.Status != metadata.StatusFailed || !strings.HasPrefix(ghost.Error, want) || ghost.EndedAt.IsZero() {
		t.Errorf("abandoned run after a tick = %s %q ended %v, want failed with %q", ghost.Status, ghost.Error, ghost.EndedAt, want)
	}
	for _, id := range []string{"run-live", "run-nobody"} {
		if r, _ := store.GetRun(ctx, id); r.Status != metadata.StatusRunning {
			t.Errorf("run %s after a tick = %s (%s), want running", id, r.Status, r.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || heard[0].ID != "run-ghost" || heard[0].Error != ghost.Error {
		t.Errorf("OnAbandoned heard %+v, want run-ghost with its reason", heard)
	}
	// A second tick finds nothing more to do.
	heard = nil
	mu.Unlock()
	tick(t, s)
	mu.Lock()
	if len(heard) != 0 {
		t.Errorf("a second tick abandoned %+v again", heard)
	}
}
