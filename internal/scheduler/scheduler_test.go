package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/testutil"
)

// fakeClock is set by the test; Sleep records the wait and returns at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// recorder is an Executor that records its jobs and answers from a script.
type recorder struct {
	mu      sync.Mutex
	jobs    []Job
	fail    func(Job) error
	running atomic.Int64
	peak    atomic.Int64
}

func (r *recorder) exec(ctx context.Context, j Job) error {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	r.mu.Lock()
	r.jobs = append(r.jobs, j)
	r.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	if r.fail != nil {
		return r.fail(j)
	}
	return nil
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, j := range r.jobs {
		out = append(out, fmt.Sprintf("%s@%s#%d", j.Pipeline, j.Interval.Start.UTC().Format("01-02T15"), j.Attempt))
	}
	return out
}

func project(t *testing.T, pipelines string) *config.Project {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n"+pipelines), 0o644)
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sqliteStore(t *testing.T) metadata.Store {
	t.Helper()
	s, err := metadata.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func day(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }

func tick(t *testing.T, s *Scheduler) {
	t.Helper()
	if err := s.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Wait()
}

// TestCatchUpAfterDowntime: the first sight of a pipeline runs nothing;
// after three days away, catchup runs every missed day in order, and
// without catchup only the latest.
func TestCatchUpAfterDowntime(t *testing.T) {
	p := project(t, "  a: {source: s, schedule: '0 2 * * *', catchup: true}\n  b: {source: s, schedule: '0 2 * * *'}\n")
	clock := &fakeClock{now: day(1, 12)}
	rec := &recorder{}
	s := &Scheduler{Project: p, Store: sqliteStore(t), Execute: rec.exec, Clock: clock, Owner: "t", MaxConcurrent: 4}
	tick(t, s)
	if len(rec.names()) != 0 {
		t.Fatalf("first sight ran %v", rec.names())
	}
	clock.set(day(2, 3))
	tick(t, s)
	got := rec.names()
	sort.Strings(got)
	if strings.Join(got, ",") != "a@01-01T02#1,b@01-01T02#1" {
		t.Fatalf("next day: %v", got)
	}
	rec.jobs = nil
	clock.set(day(5, 12)) // down for three days
	tick(t, s)
	got = rec.names()
	sort.Strings(got)
	if strings.Join(got, ",") != "a@01-02T02#1,a@01-03T02#1,a@01-04T02#1,b@01-04T02#1" {
		t.Fatalf("after downtime: %v", got)
	}
	// A restarted scheduler reads the last fire time from the store.
	rec.jobs = nil
	s2 := &Scheduler{Project: p, Store: s.Store, Execute: rec.exec, Clock: clock, Owner: "t2"}
	tick(t, s2)
	if len(rec.names()) != 0 {
		t.Fatalf("the restarted scheduler ran %v again", rec.names())
	}
}

// TestDependenciesAndRetries: b (no schedule) runs after a succeeds for
// the same interval; c waits for a, which fails on a permanent error, so c
// is skipped; d fails twice on a transient error, then succeeds.
func TestDependenciesAndRetries(t *testing.T) {
	p := project(t, `  a: {source: s, schedule: '@hourly'}
  b: {source: s, depends_on: [a]}
  x: {source: s, schedule: '@hourly'}
  c: {source: s, schedule: '@hourly', depends_on: [x]}
  d: {source: s, schedule: '@hourly', retries: {attempts: 3, initial_interval: 1s, max_interval: 3s}}
`)
	clock := &fakeClock{now: day(1, 0)}
	var dTries atomic.Int64
	rec := &recorder{fail: func(j Job) error {
		switch j.Pipeline {
		case "x":
			return errors.New("bad config")
		case "d":
			if dTries.Add(1) < 3 {
				return fmt.Errorf("read: %w", io.ErrUnexpectedEOF)
			}
		}
		return nil
	}}
	store := sqliteStore(t)
	s := &Scheduler{Project: p, Store: store, Execute: rec.exec, Clock: clock, Owner: "t", MaxConcurrent: 2}
	tick(t, s)
	clock.set(day(1, 1).Add(time.Minute))
	tick(t, s)
	for !s.Idle() {
		s.Wait()
	}
	got := strings.Join(rec.names(), ",")
	for _, want := range []string{"a@01-01T00#1", "b@01-01T00#1", "x@01-01T00#1", "d@01-01T00#1", "d@01-01T00#2", "d@01-01T00#3"} {
		if !strings.Contains(got, want) {
			t.Errorf("runs %s lack %s", got, want)
		}
	}
	if strings.Contains(got, "c@") || strings.Count(got, "x@") != 1 {
		t.Errorf("c should be skipped and x tried once (a permanent error): %s", got)
	}
	if ia, ib := strings.Index(got, "a@"), strings.Index(got, "b@"); ib < ia {
		t.Errorf("b ran before a: %s", got)
	}
	c, _, _ := store.GetClaim(context.Background(), "c", day(1, 0))
	d, _, _ := store.GetClaim(context.Background(), "d", day(1, 0))
	if c.Status != metadata.StatusSkipped || d.Status != metadata.StatusSucceeded {
		t.Errorf("claims: c %s, d %s", c.Status, d.Status)
	}
	clock.mu.Lock()
	waits := append([]time.Duration(nil), clock.sleeps...)
	clock.mu.Unlock()
	var backoffs []time.Duration
	for _, w := range waits {
		if w <= 3*time.Second && w >= 500*time.Millisecond {
			backoffs = append(backoffs, w)
		}
	}
	if len(backoffs) != 2 || backoffs[1] < time.Second {
		t.Errorf("backoff waits %v: want two, the second doubled (with jitter)", backoffs)
	}
}

// TestTimeoutConcurrencyAndPause: an attempt that outlives its timeout is
// cancelled through its context; at most MaxConcurrent runs at once; a
// paused pipeline does not run.
func TestTimeoutConcurrencyAndPause(t *testing.T) {
	p := project(t, `  slow: {source: s, schedule: '@hourly', timeout: 50ms}
  a: {source: s, schedule: '@hourly'}
  b: {source: s, schedule: '@hourly'}
  off: {source: s, schedule: '@hourly'}
`)
	clock := &fakeClock{now: day(1, 0)}
	store := sqliteStore(t)
	if err := store.SetPaused(context.Background(), "off", true); err != nil {
		t.Fatal(err)
	}
	var cancelled atomic.Bool
	rec := &recorder{fail: func(j Job) error { return nil }}
	exec := func(ctx context.Context, j Job) error {
		if j.Pipeline == "slow" {
			<-ctx.Done()
			cancelled.Store(true)
			return ctx.Err()
		}
		return rec.exec(ctx, j)
	}
	s := &Scheduler{Project: p, Store: store, Execute: exec, Clock: clock, Owner: "t", MaxConcurrent: 1}
	tick(t, s)
	clock.set(day(1, 1).Add(time.Second))
	tick(t, s)
	for !s.Idle() {
		s.Wait()
	}
	c, _, _ := store.GetClaim(context.Background(), "slow", day(1, 0))
	if !cancelled.Load() || c.Status != metadata.StatusFailed {
		t.Errorf("the slow run: cancelled %v, claim %s", cancelled.Load(), c.Status)
	}
	if rec.peak.Load() > 1 {
		t.Errorf("%d runs at once, limit 1", rec.peak.Load())
	}
	if got := strings.Join(rec.names(), ","); strings.Contains(got, "off@") || !strings.Contains(got, "a@") || !strings.Contains(got, "b@") {
		t.Errorf("runs %s", got)
	}
}

// TestAbandonedClaims: a claim whose scheduler stopped heartbeating is
// marked failed, or run again when ResumeAbandoned is set.
func TestAbandonedClaims(t *testing.T) {
	p := project(t, "  a: {source: s, schedule: '@daily'}\n")
	store := sqliteStore(t)
	ctx := context.Background()
	store.ClaimInterval(ctx, metadata.Claim{Pipeline: "a", LogicalDate: day(1, 0), Owner: "dead", Status: metadata.StatusRunning, Trigger: TriggerScheduled})
	clock := &fakeClock{now: time.Now().Add(time.Hour)}
	rec := &recorder{}
	s := &Scheduler{Project: p, Store: store, Execute: rec.exec, Clock: clock, Owner: "alive"}
	tick(t, s)
	c, _, _ := store.GetClaim(ctx, "a", day(1, 0))
	if c.Status != metadata.StatusFailed || strings.Contains(strings.Join(rec.names(), ","), "a@01-01") {
		t.Fatalf("abandoned claim %+v, runs %v", c, rec.names())
	}
	rec.jobs = nil
	c.Status, c.Owner = metadata.StatusRunning, "dead"
	store.UpdateClaim(ctx, c)
	r := &Scheduler{Project: p, Store: store, Execute: rec.exec, Clock: clock, Owner: "alive2", ResumeAbandoned: true}
	tick(t, r)
	c, _, _ = store.GetClaim(ctx, "a", day(1, 0))
	if c.Status != metadata.StatusSucceeded || strings.Join(rec.names(), ",") != "a@01-01T00#1" {
		t.Fatalf("resumed claim %+v, runs %v", c, rec.names())
	}
}

// TestTwoSchedulersOnePostgres: two schedulers share a PostgreSQL
// metadata store and see the same intervals due; each interval runs once.
func TestTwoSchedulersOnePostgres(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	p := project(t, "  a: {source: s, schedule: '@hourly', catchup: true}\n  b: {source: s, schedule: '@hourly', catchup: true}\n")
	ctx := context.Background()
	open := func() metadata.Store {
		s, err := metadata.Open(ctx, "postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storeA, storeB := open(), open()
	for _, name := range []string{"a", "b"} {
		storeA.SetWatermark(ctx, name, lastFireKey, day(1, 0).Format(time.RFC3339Nano))
	}
	clock := &fakeClock{now: day(1, 5).Add(time.Minute)}
	rec := &recorder{}
	s1 := &Scheduler{Project: p, Store: storeA, Execute: rec.exec, Clock: clock, Owner: "one", MaxConcurrent: 2}
	s2 := &Scheduler{Project: p, Store: storeB, Execute: rec.exec, Clock: clock, Owner: "two", MaxConcurrent: 2}
	var wg sync.WaitGroup
	for _, s := range []*Scheduler{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Tick(ctx); err != nil {
				t.Error(err)
			}
			for !s.Idle() {
				s.Wait()
			}
		}()
	}
	wg.Wait()
	got := rec.names()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	if len(got) != 10 || len(seen) != 10 {
		t.Fatalf("%d runs (%d distinct), want 10 intervals once each: %v", len(got), len(seen), got)
	}
}

func TestBackoff(t *testing.T) {
	r := config.Retries{Attempts: 5, InitialInterval: time.Second, MaxInterval: 4 * time.Second}
	for attempt, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 4 * time.Second} {
		for i := 0; i < 20; i++ {
			if d := backoff(r, attempt); d < max/2 || d > max {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, max/2, max)
			}
		}
	}
}

// TestServeAndGrace: Serve runs an every-second schedule on the wall
// clock; when it stops, a run still going gets the grace period, then its
// context is cancelled.
func TestServeAndGrace(t *testing.T) {
	p := project(t, "  tick: {source: s, schedule: '@every 1s'}\n  hang: {source: s, schedule: '@every 1s'}\n")
	var ticks atomic.Int64
	var cancelled atomic.Bool
	exec := func(ctx context.Context, j Job) error {
		if j.Pipeline == "hang" {
			<-ctx.Done()
			cancelled.Store(true)
			return ctx.Err()
		}
		ticks.Add(1)
		return nil
	}
	s := &Scheduler{Project: p, Store: sqliteStore(t), Execute: exec, Owner: "t", MaxConcurrent: 4}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Serve(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ticks.Load() < 1 || !cancelled.Load() || time.Since(start) > 5*time.Second {
		t.Fatalf("ticks %d, hung run cancelled %v, after %s", ticks.Load(), cancelled.Load(), time.Since(start))
	}
}

// TestEnqueueTakesOver: a backfill of an interval that already succeeded
// runs it again; a scheduled tick does not.
func TestEnqueueTakesOver(t *testing.T) {
	p := project(t, "  a: {source: s, schedule: '@daily'}\n")
	store := sqliteStore(t)
	ctx := context.Background()
	store.ClaimInterval(ctx, metadata.Claim{Pipeline: "a", LogicalDate: day(1, 0), Owner: "x", Status: metadata.StatusSucceeded, Trigger: TriggerScheduled})
	rec := &recorder{}
	s := &Scheduler{Project: p, Store: store, Execute: rec.exec, Clock: &fakeClock{now: day(1, 12)}, Owner: "t"}
	iv := Interval{Start: day(1, 0), End: day(2, 0)}
	if err := s.Enqueue(ctx, Job{Pipeline: "a", Interval: iv, Trigger: TriggerScheduled}); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if len(rec.names()) != 0 {
		t.Fatalf("a scheduled job ran a claimed interval: %v", rec.names())
	}
	if err := s.Enqueue(ctx, Job{Pipeline: "a", Interval: iv, Trigger: TriggerBackfill}); err != nil {
		t.Fatal(err)
	}
	for !s.Idle() {
		s.Wait()
	}
	c, _, _ := store.GetClaim(ctx, "a", day(1, 0))
	if strings.Join(rec.names(), ",") != "a@01-01T00#1" || c.Status != metadata.StatusSucceeded || c.Owner != "t" {
		t.Fatalf("backfill: %v, claim %+v", rec.names(), c)
	}
	if WallClock.Now().IsZero() || mustParse(t, "@daily", "").String() != "@daily" {
		t.Fatal("clock or schedule text")
	}
}

// heldErr is what a pipeline returns when its commit waits for a person.
type heldErr struct{}

func (heldErr) Error() string { return "commit held for approval" }
func (heldErr) Held() bool    { return true }

// TestHeldRunIsNotRetriedNorFailed: a held run is not retried, its
// interval reads held (not failed), and a pipeline that depends on it
// waits instead of being skipped.
func TestHeldRunIsNotRetriedNorFailed(t *testing.T) {
	p := project(t, `  h: {source: s, schedule: '@hourly', retries: {attempts: 3, initial_interval: 1s}}
  down: {source: s, schedule: '@hourly', depends_on: [h]}
`)
	clock := &fakeClock{now: day(1, 0)}
	rec := &recorder{fail: func(j Job) error {
		if j.Pipeline == "h" {
			return fmt.Errorf("pipeline h: %w", heldErr{})
		}
		return nil
	}}
	store := sqliteStore(t)
	s := &Scheduler{Project: p, Store: store, Execute: rec.exec, Clock: clock, Owner: "t", MaxConcurrent: 2}
	tick(t, s)
	clock.set(day(1, 1).Add(time.Minute))
	tick(t, s) // runs h; down waits for it
	tick(t, s) // down still waits: h is held, not failed
	if got := strings.Join(rec.names(), ","); got != "h@01-01T00#1" {
		t.Fatalf("runs %s: want h once, down waiting", got)
	}
	h, _, _ := store.GetClaim(context.Background(), "h", day(1, 0))
	down, found, _ := store.GetClaim(context.Background(), "down", day(1, 0))
	if h.Status != metadata.StatusHeld || (found && down.Status == metadata.StatusSkipped) {
		t.Fatalf("claims: h %s, down %s (found %v)", h.Status, down.Status, found)
	}
}
