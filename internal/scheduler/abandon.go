package scheduler

import (
	"context"

	"github.com/shp-dev/shp/internal/metadata"
)

// abandonRuns marks failed the runs, of any process, left running by a
// process that stopped heartbeating (metadata.AbandonRuns): whether its
// runs were scheduled, triggered or started by shp run, a dead process's
// run does not read "running" for longer than its lease. A failure is
// logged: it must not stop the schedule.
func (s *Scheduler) abandonRuns(ctx context.Context) {
	gone, err := metadata.AbandonRuns(ctx, s.Store)
	if err != nil && ctx.Err() == nil {
		s.Logger.Error("mark abandoned runs failed", "err", err)
	}
	for _, r := range gone {
		s.Logger.Warn("a run's process stopped heartbeating; marked failed", "pipeline", r.Pipeline, "run_id", r.ID, "owner", r.Owner, "reason", r.Error)
		if s.OnAbandoned != nil {
			s.OnAbandoned(r)
		}
	}
}
