package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/lineage"
	"github.com/shp-dev/shp/internal/metadata"
)

// abandonStaleRuns marks failed the runs left "running" by a process that
// died: of any pipeline, those whose heartbeat is older than their lease
// or whose process on this host is gone (metadata.AbandonRuns); of this
// pipeline, also those without an owner, recorded before runs had
// heartbeats (only one process can hold the embedded warehouse, so such a
// run is dead). A failure to mark another process's run is logged: this
// run goes on.
func (r *Runner) abandonStaleRuns(ctx context.Context, name string) error {
	gone, err := metadata.AbandonRuns(ctx, r.Store)
	for _, g := range gone {
		r.RunAbandoned(ctx, g)
	}
	if err != nil {
		r.logger().Warn("mark abandoned runs failed", "err", err)
	}
	stale, err := r.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: name, Status: metadata.StatusRunning})
	if err != nil {
		return err
	}
	for _, s := range stale {
		if s.Owner != "" {
			continue // it heartbeats: its lease tells
		}
		now := time.Now()
		reason := "abandoned: the process running it stopped before it finished"
		done, err := r.Store.AbandonRun(ctx, s, now.Add(time.Hour), now, reason)
		if err != nil {
			return err
		}
		if done {
			s.Status, s.Error, s.EndedAt = metadata.StatusFailed, reason, now
			r.RunAbandoned(ctx, s)
		}
	}
	return nil
}

// RunAbandoned hears of a run marked failed because the process running
// it stopped heartbeating (metadata.AbandonRuns), here or by a scheduler:
// it is logged and, with lineage, ends with a FAIL event that carries its
// reason, as a failed run's would.
func (r *Runner) RunAbandoned(ctx context.Context, run metadata.Run) {
	ctx = context.WithoutCancel(ctx)
	log := r.logger().With("pipeline", run.Pipeline, "run_id", run.ID)
	log.Warn("run abandoned by its process; marked failed", "owner", run.Owner, "err", run.Error)
	p, ok := r.Project.Pipeline(run.Pipeline)
	if !ok || r.Lineage == nil {
		return
	}
	src, ok := r.Project.Sources[p.Source]
	if !ok {
		return
	}
	res := &Result{RunID: run.ID, Pipeline: run.Pipeline, Target: p.Target, Status: metadata.StatusFailed, Err: errors.New(run.Error)}
	r.emit(ctx, lineage.Fail, res, src, log)
}

// owner is the name the runner's runs go by.
func (r *Runner) owner() string {
	if r.Owner != "" {
		return r.Owner
	}
	return metadata.ProcessOwner()
}

// lease is the runner's runs' lease.
func (r *Runner) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return metadata.DefaultLease
}

// heartbeats keeps a runner's running runs alive in the metadata store:
// one goroutine, while at least one run goes on, refreshes all of them
// every lease/3 in one update.
type heartbeats struct {
	mu   sync.Mutex
	live map[string]bool
	stop chan struct{} // closed to stop the goroutine; nil when none runs
}

// add starts heartbeating the run id.
func (h *heartbeats) add(r *Runner, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.live == nil {
		h.live = map[string]bool{}
	}
	h.live[id] = true
	if h.stop == nil {
		h.stop = make(chan struct{})
		go h.beat(r, r.owner(), r.lease()/3, h.stop)
	}
}

// remove stops heartbeating the run id; the goroutine ends with the last.
func (h *heartbeats) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.live, id)
	if len(h.live) == 0 && h.stop != nil {
		close(h.stop)
		h.stop = nil
	}
}

// beat heartbeats the live runs every interval until stop is closed.
func (h *heartbeats) beat(r *Runner, owner string, every time.Duration, stop chan struct{}) {
	t := time.NewTicker(max(every, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		ids := make([]string, 0, len(h.live))
		for id := range h.live {
			ids = append(ids, id)
		}
		h.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		n, err := r.Store.HeartbeatRuns(context.Background(), owner, ids)
		switch {
		case err != nil:
			r.logger().Warn("heartbeat of running runs failed; their lease may lapse", "runs", len(ids), "err", err)
		case n < int64(len(ids)):
			// Ended meanwhile, or marked abandoned by another process
			// (this one stalled longer than the lease); a run that ends
			// records its own outcome all the same.
			r.logger().Debug("some runs no longer heartbeat", "runs", len(ids), "refreshed", n)
		}
	}
}
