package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/resilience"
)

// held reports whether err says a run waits for a person's decision
// (an error with a Held method that returns true, such as the
// pipeline's HeldError).
func held(err error) bool {
	var h interface{ Held() bool }
	return errors.As(err, &h) && h.Held()
}

// Triggers.
const (
	TriggerScheduled = "scheduled"
	TriggerBackfill  = "backfill"
	TriggerManual    = "manual"
	// TriggerEvent: started by an object that arrived (a Cloud Storage
	// notification through Pub/Sub).
	TriggerEvent = "event"
)

// Job is one attempt at one pipeline interval.
type Job struct {
	Pipeline string
	Interval Interval
	Trigger  string
	Attempt  int
	// FullRefresh and Params are a manual run's options, for the Executor.
	FullRefresh bool
	Params      map[string]string
	// RunID names the run when the caller chose it (the API answers with
	// it before the run starts); the Executor makes one when empty.
	RunID string

	claimed bool // the scheduler holds the interval already (a takeover)
}

func (j Job) key() string { return j.Pipeline + "@" + j.Interval.Start.UTC().Format(time.RFC3339Nano) }

// Executor runs one attempt; the context is cancelled when the attempt
// times out or the scheduler stops for good.
type Executor func(ctx context.Context, job Job) error

// Clock is the scheduler's time: the wall clock, or a fake one in tests.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WallClock is the real clock.
var WallClock Clock = wallClock{}

// Scheduler runs a project's scheduled pipelines.
type Scheduler struct {
	Project *config.Project
	Store   ClaimStore
	Execute Executor
	Clock   Clock
	// Owner names this scheduler in its claims; unique per process.
	Owner string
	// MaxConcurrent bounds the runs in flight over all pipelines (1 when
	// 0); each pipeline is also bounded by its max_active_runs.
	MaxConcurrent int
	// Retryable decides whether a failed attempt is worth another; by
	// default transient errors (resilience.Transient) and timeouts are.
	Retryable func(error) bool
	// LeaseTTL is how long a claim may go without a heartbeat before
	// another scheduler takes it as abandoned (default 2 minutes).
	LeaseTTL time.Duration
	// ResumeAbandoned runs abandoned intervals again; otherwise they are
	// marked failed.
	ResumeAbandoned bool
	// OnAbandoned, when set, hears of each run that a tick marked failed
	// because the process running it stopped heartbeating (see
	// metadata.AbandonRuns), with the reason in its Error.
	OnAbandoned func(metadata.Run)
	Logger      *slog.Logger

	mu       sync.Mutex
	queue    []Job
	active   map[string]int
	inFlight int
	wg       sync.WaitGroup
	runCtx   context.Context
	stopRuns context.CancelFunc
	started  bool
	lastFire map[string]time.Time
	latest   map[string]time.Time // each pipeline's latest claim, read once
	scheds   map[string]*Schedule
	finished []metadata.Claim // statuses to write, by the flusher
	flush    chan struct{}
	stopping bool            // Serve is ending: start nothing new
	pending  map[string]bool // queued or running jobs, by key
}

func (s *Scheduler) init() {
	if s.started {
		return
	}
	s.started = true
	if s.Clock == nil {
		s.Clock = WallClock
	}
	if s.MaxConcurrent < 1 {
		s.MaxConcurrent = 1
	}
	if s.LeaseTTL <= 0 {
		s.LeaseTTL = 2 * time.Minute
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Retryable == nil {
		s.Retryable = func(err error) bool {
			return resilience.Transient(err) || errors.Is(err, context.DeadlineExceeded)
		}
	}
	s.active = map[string]int{}
	s.lastFire = map[string]time.Time{}
	s.scheds = map[string]*Schedule{}
	s.runCtx, s.stopRuns = context.WithCancel(context.Background())
	s.flush = make(chan struct{}, 1)
	s.pending = map[string]bool{}
	go s.flusher()
}

// push queues a job unless the same interval is queued or running. s.mu
// is held.
func (s *Scheduler) push(j Job) {
	if s.pending[j.key()] {
		return
	}
	s.pending[j.key()] = true
	s.queue = append(s.queue, j)
}

// flusher writes the statuses of finished runs, many in one transaction,
// then starts what they unblock. A run counts as done (Wait) once its
// status is written.
func (s *Scheduler) flusher() {
	for range s.flush {
		s.mu.Lock()
		batch := s.finished
		s.finished = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		ctx := context.Background()
		if err := s.Store.SetClaimStatuses(ctx, batch); err != nil {
			// Keep them: a run is done only once its status is on record.
			s.Logger.Error("record run statuses; retrying", "runs", len(batch), "err", err)
			s.mu.Lock()
			s.finished = append(batch, s.finished...)
			s.mu.Unlock()
			go func() {
				time.Sleep(time.Second)
				select {
				case s.flush <- struct{}{}:
				default:
				}
			}()
			continue
		}
		s.mu.Lock()
		for _, c := range batch {
			delete(s.pending, c.Pipeline+"@"+c.LogicalDate.UTC().Format(time.RFC3339Nano))
		}
		s.mu.Unlock()
		if err := s.dispatch(ctx); err != nil {
			s.Logger.Error("dispatch", "err", err)
		}
		for range batch {
			s.wg.Done()
		}
	}
}

// lastFireKey keeps a pipeline's last fire time in the metadata store.
const lastFireKey = "schedule:last_fire"

func (s *Scheduler) schedule(name string) (*Schedule, error) {
	if sc, ok := s.scheds[name]; ok {
		return sc, nil
	}
	pl, _ := s.Project.Pipeline(name)
	sc, err := ParseSchedule(pl.Schedule, pl.Timezone)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", name, err)
	}
	s.scheds[name] = sc
	return sc, nil
}

// Tick enqueues the intervals that are due and starts what may start. It
// returns when the runs it started are under way, not finished.
func (s *Scheduler) Tick(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.mu.Unlock()
	now := s.Clock.Now()
	if err := s.recoverAbandoned(ctx, now); err != nil {
		return err
	}
	s.abandonRuns(ctx)
	pausedList, err := s.Store.PausedPipelines(ctx)
	if err != nil {
		return err
	}
	paused := map[string]bool{}
	for _, n := range pausedList {
		paused[n] = true
	}
	for _, name := range s.Project.PipelineNames() {
		pl, _ := s.Project.Pipeline(name)
		if pl.Schedule == "" || paused[name] {
			continue
		}
		sc, err := s.schedule(name)
		if err != nil {
			return err
		}
		last, err := s.lastFired(ctx, name, sc, now)
		if err != nil {
			return err
		}
		due := sc.Due(last, now, pl.Catchup)
		if len(due) == 0 {
			continue
		}
		s.mu.Lock()
		for _, iv := range due {
			s.push(Job{Pipeline: name, Interval: iv, Trigger: TriggerScheduled, Attempt: 1})
		}
		s.lastFire[name] = due[len(due)-1].End
		s.mu.Unlock()
	}
	return s.dispatch(ctx)
}

// lastFired is the pipeline's last fire time: remembered; after a restart,
// the end of its latest claimed interval (or a stored schedule:last_fire
// watermark); the first time shp sees the pipeline, the latest fire
// before now, so that the first run is the next one.
func (s *Scheduler) lastFired(ctx context.Context, name string, sc *Schedule, now time.Time) (time.Time, error) {
	s.mu.Lock()
	t, ok := s.lastFire[name]
	loaded := s.latest != nil
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	if !loaded {
		latest, err := s.Store.LatestClaims(ctx)
		if err != nil {
			return time.Time{}, err
		}
		s.mu.Lock()
		s.latest = latest
		s.mu.Unlock()
	}
	var last time.Time
	if start, ok := s.latest[name]; ok {
		last = sc.Next(start)
	}
	if v, found, err := s.Store.GetWatermark(ctx, name, lastFireKey); err != nil {
		return time.Time{}, err
	} else if found {
		if w, err := time.Parse(time.RFC3339Nano, v); err == nil && w.After(last) {
			last = w
		}
	}
	if last.IsZero() {
		last = sc.Prev(now.Add(time.Nanosecond))
	}
	s.mu.Lock()
	s.lastFire[name] = last
	s.mu.Unlock()
	return last, nil
}

// Enqueue adds intervals to run now (a backfill, or a manual trigger)
// and starts what may start.
func (s *Scheduler) Enqueue(ctx context.Context, jobs ...Job) error {
	s.mu.Lock()
	s.init()
	for _, j := range jobs {
		if j.Attempt < 1 {
			j.Attempt = 1
		}
		s.push(j)
	}
	s.mu.Unlock()
	return s.dispatch(ctx)
}

// dispatch starts queued jobs whose upstream pipelines succeeded for the
// same interval, within the concurrency limits; jobs whose upstream
// failed are skipped.
func (s *Scheduler) dispatch(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		dropped, err := s.dispatchOnce(ctx)
		if err != nil || dropped == 0 || len(s.queue) == 0 {
			return err
		}
		// Some intervals were another scheduler's: their places are free
		// for the jobs still queued.
	}
}

// dispatchOnce starts what fits and reports how many of the jobs it chose
// turned out to be claimed elsewhere. s.mu is held.
func (s *Scheduler) dispatchOnce(ctx context.Context) (int, error) {
	if s.stopping {
		return 0, nil
	}
	// Oldest first; the same order in every scheduler, so that their
	// batches of claims take the rows in the same order.
	sort.SliceStable(s.queue, func(i, j int) bool {
		a, b := s.queue[i], s.queue[j]
		if !a.Interval.Start.Equal(b.Interval.Start) {
			return a.Interval.Start.Before(b.Interval.Start)
		}
		return a.Pipeline < b.Pipeline
	})
	var keep, start []Job
	inFlight := s.inFlight
	active := map[string]int{}
	for _, j := range s.queue {
		ready, skip, err := s.upstreamState(ctx, j)
		if err != nil {
			return 0, err
		}
		if skip != "" {
			s.finishClaim(ctx, j, metadata.StatusSkipped)
			delete(s.pending, j.key())
			s.Logger.Warn("run skipped", "pipeline", j.Pipeline, "logical_date", j.Interval.Start, "reason", skip)
			continue
		}
		pl, _ := s.Project.Pipeline(j.Pipeline)
		if !ready || inFlight >= s.MaxConcurrent || s.active[j.Pipeline]+active[j.Pipeline] >= pl.MaxActiveRuns {
			keep = append(keep, j)
			continue
		}
		inFlight++
		active[j.Pipeline]++
		start = append(start, j)
	}
	s.queue = keep
	if len(start) == 0 {
		return 0, nil
	}
	// Every interval that may start is claimed in one transaction.
	var claims []metadata.Claim
	for _, j := range start {
		if !j.claimed {
			claims = append(claims, metadata.Claim{Pipeline: j.Pipeline, LogicalDate: j.Interval.Start, Owner: s.Owner, Status: metadata.StatusRunning, Trigger: j.Trigger})
		}
	}
	got, err := s.Store.ClaimIntervals(ctx, claims)
	if err != nil {
		s.queue = append(start, s.queue...) // try them again later
		return 0, err
	}
	taken := make([]bool, len(start))
	for i, k := 0, 0; i < len(start); i++ {
		if start[i].claimed {
			taken[i] = true
			continue
		}
		taken[i] = got[k]
		k++
	}
	dropped := 0
	for i, j := range start {
		if !taken[i] {
			if j.Trigger == TriggerScheduled {
				dropped++
				delete(s.pending, j.key())
				continue // another scheduler (or an earlier run) has it
			}
			// A backfill or manual run takes a finished interval over.
			c, _, err := s.Store.GetClaim(ctx, j.Pipeline, j.Interval.Start)
			ok := err == nil && c.Status != metadata.StatusRunning && c.Status != metadata.StatusQueued
			if ok {
				ok, err = s.Store.TakeClaim(ctx, c, s.Owner)
			}
			if err != nil {
				s.Logger.Error("take over an interval", "pipeline", j.Pipeline, "err", err)
			}
			if !ok {
				dropped++
				delete(s.pending, j.key())
				s.Logger.Warn("interval is running elsewhere; not started", "pipeline", j.Pipeline, "logical_date", j.Interval.Start)
				continue
			}
		}
		s.inFlight++
		s.active[j.Pipeline]++
		s.wg.Add(1)
		go s.run(j)
	}
	return dropped, nil
}

// upstreamState says whether a job's upstream pipelines succeeded for its
// interval (ready), or why it will never run (skip).
func (s *Scheduler) upstreamState(ctx context.Context, j Job) (ready bool, skip string, err error) {
	if j.Trigger != TriggerScheduled {
		return true, "", nil // a person asked for this run: it does not wait
	}
	pl, _ := s.Project.Pipeline(j.Pipeline)
	for _, up := range pl.DependsOn {
		c, found, err := s.Store.GetClaim(ctx, up, j.Interval.Start)
		if err != nil {
			return false, "", err
		}
		switch {
		case !found:
			return false, "", nil
		case c.Status == metadata.StatusFailed || c.Status == metadata.StatusSkipped:
			return false, fmt.Sprintf("upstream pipeline %s %s for this interval", up, c.Status), nil
		case c.Status != metadata.StatusSucceeded:
			return false, "", nil
		}
	}
	return true, "", nil
}

// run tries a job until it succeeds, fails for good or runs out of
// attempts, then starts what its success unblocks.
func (s *Scheduler) run(j Job) {
	// wg.Done is the flusher's, once the run's status is written.
	pl, _ := s.Project.Pipeline(j.Pipeline)
	log := s.Logger.With("pipeline", j.Pipeline, "logical_date", j.Interval.Start.UTC().Format(time.RFC3339), "trigger", j.Trigger)
	hbCtx, cancelHB := context.WithCancel(s.runCtx)
	hbDone := make(chan struct{})
	hb := j // the heartbeat's own copy: j.Attempt changes below
	go func() { defer close(hbDone); s.heartbeat(hbCtx, hb) }()
	stopHB := func() { cancelHB(); <-hbDone }
	status := metadata.StatusFailed
	for attempt := j.Attempt; ; attempt++ {
		j.Attempt = attempt
		actx, cancel := s.runCtx, context.CancelFunc(func() {})
		if pl.Timeout > 0 {
			actx, cancel = context.WithTimeout(s.runCtx, pl.Timeout)
		}
		start := s.Clock.Now()
		err := s.Execute(actx, j)
		if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", pl.Timeout, context.DeadlineExceeded)
		}
		cancel()
		if err == nil {
			status = metadata.StatusSucceeded
			log.Info("run succeeded", "attempt", attempt, "duration", s.Clock.Now().Sub(start))
			break
		}
		if held(err) {
			status = metadata.StatusHeld
			log.Warn("run held for a decision", "attempt", attempt, "err", err)
			break
		}
		if attempt >= pl.Retries.Attempts || !s.Retryable(err) || s.runCtx.Err() != nil {
			log.Error("run failed", "attempt", attempt, "err", err)
			break
		}
		wait := backoff(pl.Retries, attempt)
		log.Warn("run failed, retrying", "attempt", attempt, "wait", wait, "err", err)
		if s.Clock.Sleep(s.runCtx, wait) != nil {
			break
		}
	}
	stopHB()
	s.mu.Lock()
	s.finished = append(s.finished, metadata.Claim{Pipeline: j.Pipeline, LogicalDate: j.Interval.Start, Status: status, Owner: s.Owner})
	s.inFlight--
	s.active[j.Pipeline]--
	if status == metadata.StatusSucceeded {
		// Pipelines that depend on this one and have no schedule of their
		// own run for the same interval now.
		for _, name := range s.Project.PipelineNames() {
			down, _ := s.Project.Pipeline(name)
			if down.Schedule == "" && contains(down.DependsOn, j.Pipeline) {
				s.push(Job{Pipeline: name, Interval: j.Interval, Trigger: j.Trigger, Attempt: 1, Params: j.Params})
			}
		}
	}
	s.mu.Unlock()
	select {
	case s.flush <- struct{}{}:
	default: // a flush is pending; it will take this status too
	}
}

// heartbeat keeps the job's claim fresh so that other schedulers see it
// alive.
func (s *Scheduler) heartbeat(ctx context.Context, j Job) {
	for {
		if WallClock.Sleep(ctx, s.LeaseTTL/3) != nil {
			return
		}
		held, err := s.Store.Heartbeat(ctx, j.Pipeline, j.Interval.Start, s.Owner)
		switch {
		case err != nil && ctx.Err() == nil:
			s.Logger.Warn("heartbeat failed; the lease may lapse", "pipeline", j.Pipeline, "err", err)
		case err == nil && !held:
			s.Logger.Warn("another scheduler took this interval over", "pipeline", j.Pipeline, "logical_date", j.Interval.Start)
			return
		}
	}
}

func (s *Scheduler) finishClaim(ctx context.Context, j Job, status string) {
	err := s.Store.SetClaimStatus(ctx, j.Pipeline, j.Interval.Start, status)
	if errors.Is(err, metadata.ErrNotFound) {
		// A job skipped before it was claimed: record the interval.
		_, err = s.Store.ClaimInterval(ctx, metadata.Claim{Pipeline: j.Pipeline, LogicalDate: j.Interval.Start, Owner: s.Owner, Trigger: j.Trigger, Status: status})
	}
	if err != nil {
		s.Logger.Error("record claim", "pipeline", j.Pipeline, "err", err)
	}
}

// recoverAbandoned handles claims left running by a scheduler that died:
// their heartbeat is older than the lease.
func (s *Scheduler) recoverAbandoned(ctx context.Context, now time.Time) error {
	claims, err := s.Store.ListClaims(ctx, "", metadata.StatusRunning, metadata.StatusQueued)
	if err != nil {
		return err
	}
	for _, c := range claims {
		if c.Owner == s.Owner || now.Sub(c.UpdatedAt) < s.LeaseTTL {
			continue
		}
		if _, ok := s.Project.Pipeline(c.Pipeline); !ok {
			continue
		}
		// Take it first, so that of several schedulers one acts.
		taken, err := s.Store.TakeClaim(ctx, c, s.Owner)
		if err != nil {
			return err
		}
		if !taken {
			continue
		}
		if s.ResumeAbandoned {
			iv := Interval{Start: c.LogicalDate}
			if sc, err := s.schedule(c.Pipeline); err == nil {
				iv.End = sc.Next(c.LogicalDate)
			}
			s.Logger.Warn("resuming an interval its scheduler abandoned", "pipeline", c.Pipeline, "logical_date", c.LogicalDate, "owner", c.Owner)
			s.mu.Lock()
			s.push(Job{Pipeline: c.Pipeline, Interval: iv, Trigger: c.Trigger, Attempt: 1, claimed: true})
			s.mu.Unlock()
			continue
		}
		s.Logger.Warn("an interval's scheduler died; marked failed", "pipeline", c.Pipeline, "logical_date", c.LogicalDate, "owner", c.Owner)
		if err := s.Store.SetClaimStatuses(ctx, []metadata.Claim{{Pipeline: c.Pipeline, LogicalDate: c.LogicalDate, Owner: s.Owner, Status: metadata.StatusFailed}}); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the wait before the next attempt: doubling from the initial
// interval up to the maximum, with jitter (50% to 100% of it).
func backoff(r config.Retries, attempt int) time.Duration {
	d := r.InitialInterval
	for i := 1; i < attempt && d < r.MaxInterval; i++ {
		d *= 2
	}
	if r.MaxInterval > 0 && d > r.MaxInterval {
		d = r.MaxInterval
	}
	return time.Duration(float64(d) * (0.5 + 0.5*rand.Float64()))
}

// Wait blocks until every run started has finished.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Idle reports whether nothing is running or queued.
func (s *Scheduler) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight == 0 && len(s.queue) == 0
}

// Serve ticks until ctx is done, sleeping until the next fire time (at
// most a second). Then it starts nothing new and lets running runs finish
// within grace, after which their contexts are cancelled.
func (s *Scheduler) Serve(ctx context.Context, grace time.Duration) error {
	s.mu.Lock()
	s.init()
	s.mu.Unlock()
	for ctx.Err() == nil {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("tick", "err", err)
		}
		wait := time.Second
		now := s.Clock.Now()
		for _, sc := range s.scheds {
			if d := sc.Next(now).Sub(now); d < wait {
				wait = d
			}
		}
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		_ = s.Clock.Sleep(ctx, wait)
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.Logger.Warn("runs still going after the grace period; cancelling them", "grace", grace)
		s.stopRuns()
		<-done
	}
	s.stopRuns()
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
