package metadata

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadPID returns the process id of a process that ran here and ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run a process to end: %v", err)
	}
	return cmd.Process.Pid
}

// localOwner names a process of this host (and PID namespace) with pid.
func localOwner(pid int) string {
	host, _, _ := strings.Cut(ProcessOwner(), "/")
	return fmt.Sprintf("%s/%d/0badf00d", host, pid)
}

func TestOwnerGone(t *testing.T) {
	dead := deadPID(t)
	cases := []struct {
		owner string
		gone  bool
	}{
		{ProcessOwner(), false},                         // this process
		{localOwner(os.Getppid()), false},               // a live process of this host
		{localOwner(dead), true},                        // a process of this host that ended
		{localOwner(os.Getpid()), true},                 // this pid under another name: a restart
		{"elsewhere/" + fmt.Sprint(dead) + "/x", false}, // another host: only its lease tells
		{"", false},
		{"no-slashes", false},
		{"host/not-a-pid/x", false},
		{localOwner(0), false},
	}
	for _, c := range cases {
		if got := OwnerGone(c.owner); got != c.gone {
			t.Errorf("OwnerGone(%q) = %v, want %v", c.owner, got, c.gone)
		}
	}
	if a, b := NewOwner(), NewOwner(); a == b || strings.Count(a, "/") != 2 {
		t.Errorf("NewOwner = %q then %q: want host/pid/random, different each time", a, b)
	}
	if ProcessOwner() != ProcessOwner() {
		t.Error("ProcessOwner changes")
	}
}

// TestRunOwnerAndHeartbeats: a run records its owner, heartbeat and lease;
// HeartbeatRuns refreshes only the owner's runs that still run.
func TestRunOwnerAndHeartbeats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		before := time.Now().Add(-time.Millisecond)
		mustNil(t, s.CreateRun(ctx, Run{ID: "mine", Pipeline: "p", StartedAt: ts(0), Owner: "h/1/a"}))
		mustNil(t, s.CreateRun(ctx, Run{ID: "leased", Pipeline: "p", StartedAt: ts(0), Owner: "h/1/a", Lease: 1500 * time.Millisecond, HeartbeatAt: ts(5)}))
		mustNil(t, s.CreateRun(ctx, Run{ID: "theirs", Pipeline: "p", StartedAt: ts(0), Owner: "h/2/b", HeartbeatAt: ts(5)}))
		mustNil(t, s.CreateRun(ctx, Run{ID: "done", Pipeline: "p", StartedAt: ts(0), Owner: "h/1/a", HeartbeatAt: ts(5)}))
		mustNil(t, s.FinishRun(ctx, Run{ID: "done", Status: StatusSucceeded, EndedAt: ts(9)}))
		mustNil(t, s.CreateRun(ctx, Run{ID: "nobody", Pipeline: "p", StartedAt: ts(0)}))

		got, err := s.GetRun(ctx, "mine")
		mustNil(t, err)
		if got.Owner != "h/1/a" || got.Lease != DefaultLease || got.HeartbeatAt.Before(before) || time.Since(got.HeartbeatAt) > time.Minute {
			t.Errorf("run with an owner = owner %q, lease %s, heartbeat %v: want h/1/a, the default lease, now", got.Owner, got.Lease, got.HeartbeatAt)
		}
		got, err = s.GetRun(ctx, "leased")
		mustNil(t, err)
		if got.Lease != 1500*time.Millisecond || !got.HeartbeatAt.Equal(ts(5)) {
			t.Errorf("run with a lease and a heartbeat = lease %s, heartbeat %v", got.Lease, got.HeartbeatAt)
		}
		got, err = s.GetRun(ctx, "nobody")
		mustNil(t, err)
		if got.Owner != "" || !got.HeartbeatAt.IsZero() || got.Lease != 0 {
			t.Errorf("run without an owner = owner %q, heartbeat %v, lease %s: want none", got.Owner, got.HeartbeatAt, got.Lease)
		}

		n, err := s.HeartbeatRuns(ctx, "h/1/a", []string{"leased", "theirs", "done", "gone"})
		mustNil(t, err)
		if n != 1 {
			t.Errorf("HeartbeatRuns refreshed %d runs, want 1 (leased)", n)
		}
		for id, fresh := range map[string]bool{"leased": true, "theirs": false, "done": false} {
			got, err := s.GetRun(ctx, id)
			mustNil(t, err)
			if isFresh := time.Since(got.HeartbeatAt) < time.Minute; isFresh != fresh {
				t.Errorf("run %s heartbeat %v after HeartbeatRuns: fresh %v, want %v", id, got.HeartbeatAt, isFresh, fresh)
			}
		}
		if n, err := s.HeartbeatRuns(ctx, "h/1/a", nil); err != nil || n != 0 {
			t.Errorf("HeartbeatRuns of no runs = %d, %v", n, err)
		}
	})
}

// TestAbandonRunIsConditional: of processes that abandon the same run at
// once, one does; a run that heartbeat since it was seen, or that ended,
// is left alone; its running task attempts fail with it.
func TestAbandonRunIsConditional(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		old := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
		mustNil(t, s.CreateRun(ctx, Run{ID: "ghost", Pipeline: "p", StartedAt: old, Owner: "elsewhere/7/a", HeartbeatAt: old, Lease: time.Minute}))
		mustNil(t, s.RecordTask(ctx, TaskAttempt{RunID: "ghost", Task: "load a.csv", Attempt: 1, Status: StatusRunning, StartedAt: old}))
		mustNil(t, s.RecordTask(ctx, TaskAttempt{RunID: "ghost", Task: "load b.csv", Attempt: 1, Status: StatusSucceeded, StartedAt: old, EndedAt: old}))
		seen, err := s.GetRun(ctx, "ghost")
		mustNil(t, err)

		end := time.Now().UTC().Truncate(time.Microsecond)
		const racers = 8
		won := make([]bool, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won[i], errs[i] = s.AbandonRun(ctx, seen, end.Add(-time.Minute), end, "abandoned: test")
			}()
		}
		wg.Wait()
		wins := 0
		for i := range racers {
			mustNil(t, errs[i])
			if won[i] {
				wins++
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d concurrent AbandonRun calls changed the run, want 1", wins, racers)
		}
		got, err := s.GetRun(ctx, "ghost")
		mustNil(t, err)
		if got.Status != StatusFailed || got.Error != "abandoned: test" || !got.EndedAt.Equal(end) {
			t.Errorf("abandoned run = %s %q ended %v, want failed, the reason, ended %v", got.Status, got.Error, got.EndedAt, end)
		}
		tasks, err := s.ListTasks(ctx, "ghost")
		mustNil(t, err)
		for _, task := range tasks {
			want := StatusSucceeded
			if task.Task == "load a.csv" {
				want = StatusFailed
			}
			if task.Status != want || (want == StatusFailed && (task.Error != "abandoned: test" || !task.EndedAt.Equal(end))) {
				t.Errorf("task %s after the abandon = %s %q ended %v, want %s", task.Task, task.Status, task.Error, task.EndedAt, want)
			}
		}

		// A run that heartbeat after it was seen goes on.
		mustNil(t, s.CreateRun(ctx, Run{ID: "alive", Pipeline: "p", StartedAt: old, Owner: "elsewhere/8/b", HeartbeatAt: old}))
		seen, err = s.GetRun(ctx, "alive")
		mustNil(t, err)
		n, err := s.HeartbeatRuns(ctx, "elsewhere/8/b", []string{"alive"})
		mustNil(t, err)
		if n != 1 {
			t.Fatalf("HeartbeatRuns = %d", n)
		}
		if ok, err := s.AbandonRun(ctx, seen, time.Now().Add(-time.Minute), time.Now(), "abandoned: stale view"); err != nil || ok {
			t.Errorf("AbandonRun of a run that heartbeat since = %v, %v; want false", ok, err)
		}
		// A heartbeat not before the bound is no reason either.
		seen, err = s.GetRun(ctx, "alive")
		mustNil(t, err)
		if ok, err := s.AbandonRun(ctx, seen, seen.HeartbeatAt, time.Now(), "abandoned: too soon"); err != nil || ok {
			t.Errorf("AbandonRun of a run whose heartbeat is not before the bound = %v, %v; want false", ok, err)
		}
		if got, _ := s.GetRun(ctx, "alive"); got.Status != StatusRunning {
			t.Errorf("a live run was marked %s (%s)", got.Status, got.Error)
		}
		// A run without a heartbeat is matched as such.
		mustNil(t, s.CreateRun(ctx, Run{ID: "legacy", Pipeline: "p", StartedAt: old}))
		seen, err = s.GetRun(ctx, "legacy")
		mustNil(t, err)
		if ok, err := s.AbandonRun(ctx, seen, time.Now(), time.Now(), "abandoned: legacy"); err != nil || !ok {
			t.Errorf("AbandonRun of a run without a heartbeat = %v, %v; want true", ok, err)
		}
	})
}

// TestAbandonRuns: the sweep marks failed the runs whose heartbeat is
// older than their lease and those of a process of this host that ended;
// it leaves alone live runs, runs nobody heartbeats and finished runs.
// Two sweeps at once mark each run once.
func TestAbandonRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		old := now.Add(-10 * time.Minute)
		dead := localOwner(deadPID(t))
		restarted := localOwner(os.Getpid())
		runs := []Run{
			{ID: "stale", Owner: "elsewhere/1/a", HeartbeatAt: old, Lease: 2 * time.Minute},
			{ID: "stale-short-lease", Owner: "elsewhere/2/a", HeartbeatAt: now.Add(-3 * time.Second), Lease: time.Second},
			{ID: "dead-here", Owner: dead, HeartbeatAt: now},
			{ID: "restarted-here", Owner: restarted, HeartbeatAt: now},
			{ID: "fresh-elsewhere", Owner: "elsewhere/3/a", HeartbeatAt: now},
			{ID: "long-lease", Owner: "elsewhere/4/a", HeartbeatAt: old, Lease: time.Hour},
			{ID: "alive-here", Owner: ProcessOwner(), HeartbeatAt: now},
			{ID: "parent-here", Owner: localOwner(os.Getppid()), HeartbeatAt: now},
			{ID: "nobody", StartedAt: old},
			{ID: "finished", Owner: "elsewhere/5/a", HeartbeatAt: old},
		}
		for _, r := range runs {
			r.Pipeline = "p"
			if r.StartedAt.IsZero() {
				r.StartedAt = old
			}
			mustNil(t, s.CreateRun(ctx, r))
		}
		mustNil(t, s.FinishRun(ctx, Run{ID: "finished", Status: StatusSucceeded, EndedAt: now}))

		var wg sync.WaitGroup
		got := make([][]Run, 2)
		errs := make([]error, 2)
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); got[i], errs[i] = AbandonRuns(ctx, s) }()
		}
		wg.Wait()
		marked := map[string]int{}
		for i := range got {
			mustNil(t, errs[i])
			for _, r := range got[i] {
				marked[r.ID]++
				if r.Status != StatusFailed || r.EndedAt.IsZero() {
					t.Errorf("AbandonRuns returned %s as %s ended %v", r.ID, r.Status, r.EndedAt)
				}
			}
		}
		want := map[string]string{
			"stale":             "abandoned: the process running it (owner elsewhere/1/a) stopped heartbeating at " + old.Format(time.RFC3339) + " (lease 2m0s)",
			"stale-short-lease": "abandoned: the process running it (owner elsewhere/2/a) stopped heartbeating at ",
			"dead-here":         "abandoned: the process running it (owner " + dead + ") stopped heartbeating at " + now.Format(time.RFC3339) + " (process ",
			"restarted-here":    "abandoned: the process running it (owner " + restarted + ") stopped heartbeating at ",
		}
		for _, r := range runs {
			cur, err := s.GetRun(ctx, r.ID)
			mustNil(t, err)
			prefix, abandoned := want[r.ID]
			switch {
			case abandoned && (cur.Status != StatusFailed || !strings.HasPrefix(cur.Error, prefix) || cur.EndedAt.IsZero()):
				t.Errorf("run %s = %s %q ended %v, want failed with %q", r.ID, cur.Status, cur.Error, cur.EndedAt, prefix)
			case abandoned && marked[r.ID] != 1:
				t.Errorf("run %s was returned %d times by two sweeps, want once", r.ID, marked[r.ID])
			case !abandoned && r.ID != "finished" && cur.Status != StatusRunning:
				t.Errorf("run %s = %s %q, want running", r.ID, cur.Status, cur.Error)
			case !abandoned && marked[r.ID] != 0:
				t.Errorf("run %s returned as abandoned", r.ID)
			}
		}
		if cur, _ := s.GetRun(ctx, "finished"); cur.Status != StatusSucceeded {
			t.Errorf("a finished run became %s", cur.Status)
		}
	})
}

// TestRunningRunsBeforeHeartbeats: a run left running before runs had
// heartbeats gets its start as its heartbeat when the store is migrated,
// so that the sweep ends it once the lease has passed.
func TestRunningRunsBeforeHeartbeats(t *testing.T) {
	for _, b := range backends {
		t.Run(b.kind, func(t *testing.T) {
			ctx := context.Background()
			target := b.target(t)
			s := b.open(t, target).(*sqlStore)
			// Back to the schema before migration 9, with a run left
			// running in it.
			for _, q := range []string{"DELETE FROM schema_migrations WHERE version = 9",
				"ALTER TABLE runs DROP COLUMN owner", "ALTER TABLE runs DROP COLUMN heartbeat_at", "ALTER TABLE runs DROP COLUMN lease_ms"} {
				_, err := s.db.ExecContext(ctx, q)
				mustNil(t, err)
			}
			started := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
			_, err := s.db.ExecContext(ctx, s.d.rebind(`INSERT INTO runs (id, pipeline, status, started_at) VALUES (?, ?, ?, ?)`),
				"old", "p", StatusRunning, s.d.timeArg(started))
			mustNil(t, err)
			_, err = s.db.ExecContext(ctx, s.d.rebind(`INSERT INTO runs (id, pipeline, status, started_at) VALUES (?, ?, ?, ?)`),
				"old-done", "p", StatusSucceeded, s.d.timeArg(started))
			mustNil(t, err)

			s2 := b.open(t, target)
			got, err := s2.GetRun(ctx, "old")
			mustNil(t, err)
			if !got.HeartbeatAt.Equal(started) || got.Owner != "" {
				t.Fatalf("a running run after the migration = heartbeat %v owner %q, want its start %v", got.HeartbeatAt, got.Owner, started)
			}
			if done, _ := s2.GetRun(ctx, "old-done"); !done.HeartbeatAt.IsZero() {
				t.Errorf("a finished run got a heartbeat %v", done.HeartbeatAt)
			}
			gone, err := AbandonRuns(ctx, s2)
			mustNil(t, err)
			if len(gone) != 1 || gone[0].ID != "old" || !strings.Contains(gone[0].Error, "(owner unknown) stopped heartbeating at "+started.Format(time.RFC3339)) {
				t.Errorf("AbandonRuns = %+v, want the old run, its owner unknown", gone)
			}
		})
	}
}
